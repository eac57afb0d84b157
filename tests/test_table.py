"""The one table formatter: columns aligned by display width, also on wide (CJK) text."""

from __future__ import annotations

from finr1_verl.table import display_width, format_table


def test_display_width_counts_wide_characters_twice():
    assert display_width("finqa") == 5
    assert display_width("消极") == 4
    assert display_width("ＡＢ") == 4  # fullwidth forms
    assert display_width("e\u0301") == 1  # a combining accent takes no column


def test_columns_line_up_on_screen_with_cjk_cells():
    table = format_table(
        ["source", "read", "top reasons"],
        [["财经新闻", 12, "空答案 3"], ["finqa", 1000, "empty_answer 1"]],
        total=["TOTAL", 1012, ""],
    )
    # "财经新闻" is 4 characters but 8 columns wide: padded as 8, like "finqa" + 3 blanks
    assert table.splitlines() == [
        "source    read  top reasons",
        "--------  ----  --------------",
        "财经新闻    12  空答案 3",
        "finqa     1000  empty_answer 1",
        "--------  ----  --------------",
        "TOTAL     1012",
    ]


def test_a_column_of_numbers_is_right_aligned_and_text_left_aligned():
    assert format_table(["name", "n"], [["a", 5], ["bbb", 10]]) == "name   n\n----  --\na      5\nbbb   10"


def test_numbers_already_written_out_count_as_numbers():
    table = format_table(["config", "wall s", "ratio", "share"], [["(a) plain", "3.80", "1.0x", "12.5%"]])
    assert table.splitlines()[-1] == "(a) plain    3.80   1.0x  12.5%"
