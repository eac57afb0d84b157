"""Test scaffolding shared by every test module (and by the CPU smoke run)."""
