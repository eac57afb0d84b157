"""FinanceQT = Quant-Trading-Instruct (lumalik/Quant-Trading-Instruct): ``{context, question, answer}``.

A parquet file of quant-trading code requests answered with code; ``context`` is a short role
line.  Answers are free text (code), judged rather than rule-matched.
"""

from __future__ import annotations

from finr1_verl.data.sources.generic import make_parser

SOURCE = "financeqt"
parse = make_parser(SOURCE, {"question": "question", "answer": "answer", "context": "context"})
