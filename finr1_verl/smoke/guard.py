"""Run a smoke-mode command with a hard timeout, then remove what its processes left behind.

vLLM and Ray on CPU fail by hanging (a dead vLLM worker leaves verl's trainer waiting forever) and
leave shared memory behind: every vLLM engine leaves ``psm_*`` segments and a semaphore in
``/dev/shm`` after it exits, verl's weight buckets live there too, and Ray keeps its session folder.
The guard tags every process of the run with a token in its environment (Ray's daemons and workers
and vLLM's engine processes inherit it), and when the command ends, fails or runs out of time:

1. kills every process of this user that carries the token (the command's own session first);
2. removes the ``/dev/shm`` entries that appeared while it ran and that no living process holds open
   (so a segment of another job on the machine is never touched);
3. removes the run's private Ray folder (``FINR1_RAY_TEMP_DIR``, passed to verl's ``ray.init``).

It also stops the run ``ENGINE_GRACE_S`` after vLLM reports a dead engine (a failed weight sync ends
that way, and verl would wait forever).  ``python -m finr1_verl.smoke.guard --timeout S -- COMMAND...``
exits with the command's status, 124 on timeout, 3 after an engine failure.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from finr1_verl.smoke.launch import RAY_TEMP_ENV

TOKEN_ENV = "FINR1_GUARD_TOKEN"
SHM = Path("/dev/shm")
TIMEOUT_STATUS = 124
ENGINE_FAILED_STATUS = 3
# Lines after which a smoke run never finishes: a vLLM worker died (verl's weight sync raised in it,
# vllm/v1/executor/multiproc_executor.py:405) or the engine core stopped; verl's trainer then waits on
# the dead engine forever.  The guard stops the run ENGINE_GRACE_S after the first such line.
ENGINE_FATAL = ("Worker failed with error", "EngineDeadError", "EngineCore encountered a fatal error")
ENGINE_GRACE_S = 20.0


@dataclass
class Guarded:
    returncode: int
    stdout: str
    timed_out: bool
    engine_error: str | None = None  # the first fatal engine line, when the guard stopped the run for it
    removed_shm: list[str] = field(default_factory=list)
    killed: int = 0


def _shm_entries() -> set[str]:
    try:
        return set(os.listdir(SHM))
    except OSError:
        return set()


def _tagged_pids(token: str) -> list[int]:
    """This user's processes whose environment carries ``token``."""
    needle = f"{TOKEN_ENV}={token}".encode()
    me, uid = os.getpid(), os.getuid()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid != uid:
                continue
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    pids.append(int(entry))
        except OSError:
            continue
    return pids


def _held_shm() -> set[str]:
    """Names under /dev/shm that a living process has open or mapped."""
    held: set[str] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{entry}/fd"):
                target = os.readlink(f"/proc/{entry}/fd/{fd}")
                if target.startswith("/dev/shm/"):
                    held.add(target[len("/dev/shm/") :].split(" ")[0])
            with open(f"/proc/{entry}/maps") as f:
                for line in f:
                    if "/dev/shm/" in line:
                        held.add(line.split("/dev/shm/", 1)[1].split(" ")[0].strip())
        except OSError:
            continue
    return held


def kill_tagged(token: str, grace_s: float = 5.0) -> int:
    """SIGTERM, then SIGKILL after ``grace_s``, to every process carrying ``token``; how many there were."""
    pids = _tagged_pids(token)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and _tagged_pids(token):
            time.sleep(0.2)
        if not _tagged_pids(token):
            break
    return len(pids)


def clean_shm(before: set[str]) -> list[str]:
    """Remove the /dev/shm entries that are not in ``before`` and that nobody holds; their names."""
    new = _shm_entries() - before
    if not new:
        return []
    held = _held_shm()
    removed = []
    for name in sorted(new - held):
        path = SHM / name
        try:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(name)
        except OSError:
            continue
    return removed


class RunGuard:
    """The token, private Ray folder and /dev/shm snapshot of one guarded run; ``close()`` (or leaving
    the ``with`` block) kills the tagged processes and removes what they left."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.token = uuid.uuid4().hex
        self.env = dict(os.environ if env is None else env)
        self.env[TOKEN_ENV] = self.token
        self.ray_dir = self.env.get(RAY_TEMP_ENV) or tempfile.mkdtemp(prefix="finr1-ray-", dir="/tmp")
        self.env[RAY_TEMP_ENV] = self.ray_dir
        self.before = _shm_entries()
        self.killed = 0
        self.removed_shm: list[str] = []

    def close(self) -> None:
        self.killed += kill_tagged(self.token)
        self.removed_shm += clean_shm(self.before)
        shutil.rmtree(self.ray_dir, ignore_errors=True)

    def __enter__(self) -> RunGuard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def guarded_run(
    argv: list[str],
    *,
    timeout: float,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike | None = None,
    capture: bool = True,
) -> Guarded:
    """Run ``argv`` under a :class:`RunGuard`; stdout and stderr together in ``stdout``, also echoed
    live unless ``capture``."""
    lines: list[str] = []
    fatal: list[str] = []

    def read(stream) -> None:
        for line in stream:
            lines.append(line)
            if not capture:
                sys.stdout.write(line)
            if not fatal and any(marker in line for marker in ENGINE_FATAL):
                fatal.append(line.strip())

    with RunGuard(env) as guard:
        proc = subprocess.Popen(
            argv, env=guard.env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            errors="replace", start_new_session=True,
        )  # fmt: skip
        reader = threading.Thread(target=read, args=(proc.stdout,), daemon=True)
        reader.start()
        deadline, fatal_at = time.monotonic() + timeout, None
        try:
            while proc.poll() is None:
                now = time.monotonic()
                if fatal and fatal_at is None:
                    fatal_at = now
                if now >= deadline or (fatal_at is not None and now - fatal_at >= ENGINE_GRACE_S):
                    os.killpg(proc.pid, signal.SIGKILL)
                    break
                time.sleep(0.5)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            reader.join(timeout=10)
    timed_out = not fatal and time.monotonic() >= deadline
    if fatal:
        code = proc.returncode if proc.returncode == 0 else ENGINE_FAILED_STATUS
        message = f"[finr1] guard: the vLLM engine failed ({fatal[0][-200:]}); run stopped\n"
        lines.append(message)
        if not capture:
            sys.stderr.write(message)
    else:
        code = TIMEOUT_STATUS if timed_out else proc.returncode
    return Guarded(
        code, "".join(lines), timed_out, fatal[0] if fatal else None, guard.removed_shm, guard.killed
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m finr1_verl.smoke.guard", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--timeout", type=float, required=True, help="seconds before the run is killed")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS...")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    done = guarded_run(command, timeout=args.timeout, capture=False)
    if done.timed_out:
        print(f"[finr1] guard: {command[0]} killed after {args.timeout:.0f} s", file=sys.stderr)
    if done.removed_shm:
        print(
            f"[finr1] guard: removed {len(done.removed_shm)} /dev/shm entries the run left", file=sys.stderr
        )
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
