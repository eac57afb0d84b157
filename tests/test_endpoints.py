"""One endpoint model: every form (URL list, comma string, ``host:port``, verl's ``reward_router_address``)
goes through ``llm.endpoints`` and reaches the same server from every caller, and each role reads one
set of environment variables."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from finr1_verl.data import cli_distill, cli_filter
from finr1_verl.data.cli_options import endpoint_client
from finr1_verl.llm import LLMClient, endpoints_from_env, models_url, parse_endpoints, role_env, run_sync
from finr1_verl.reward.score import ScoreSettings, compute_score
from finr1_verl.smoke.fake_openai import Reply

REPO = Path(__file__).resolve().parents[1]


def forms(server) -> dict[str, object]:
    """Every way a user or verl can name the fake server."""
    return {
        "url list": [server.base_url],
        "comma string": f"{server.base_url}, {server.base_url}",
        "host:port": server.address,
        "url without /v1": f"http://{server.address}/",
    }


def test_every_form_parses_to_the_same_base_url(fake_openai):
    for name, form in forms(fake_openai).items():
        assert parse_endpoints(form) == [fake_openai.base_url], name
    assert models_url(fake_openai.address) == f"{fake_openai.base_url}/models"
    assert parse_endpoints("a:1,b:2,a:1") == ["http://a:1/v1", "http://b:2/v1"]


def test_each_role_reads_one_set_of_variables(monkeypatch):
    for role in ("judge", "teacher", "eval"):
        env = role_env(role)
        prefix = f"FINR1_{role.upper()}"
        assert (env.urls, env.model, env.api_key) == (
            f"{prefix}_URLS",
            f"{prefix}_MODEL",
            (f"{prefix}_API_KEY", "OPENAI_API_KEY"),
        )
    monkeypatch.setenv("FINR1_TEACHER_URLS", "10.0.0.5:8000,http://10.0.0.6:8000/v1")
    assert endpoints_from_env("teacher") == ["http://10.0.0.5:8000/v1", "http://10.0.0.6:8000/v1"]
    with pytest.raises(ValueError, match="unknown endpoint role"):
        role_env("critic")


async def _ask(client: LLMClient) -> str:
    try:
        return (await client.chat([{"role": "user", "content": "hi"}])).content
    finally:
        await client.aclose()


@pytest.mark.parametrize("role, module", [("judge", cli_filter), ("teacher", cli_distill)])
def test_data_commands_take_every_form_from_flag_and_environment(role, module, fake_openai, monkeypatch):
    def parse(argv: list[str]) -> argparse.Namespace:
        parser = argparse.ArgumentParser()
        module.add_parser(parser.add_subparsers())
        required = ["--traces", "t"] if role == "judge" else ["--source", "x=y"]
        return parser.parse_args([module.__name__.rsplit("_", 1)[1], *required, "--out", "o", *argv])

    for name, form in forms(fake_openai).items():
        text = form if isinstance(form, str) else ",".join(form)
        args = parse([f"--{role}-urls", text])
        client = endpoint_client(args, role, getattr(args, f"{role}_model"))
        assert client.endpoints == [fake_openai.base_url], name
        assert run_sync(_ask(client)) == "ok"
        monkeypatch.setenv(role_env(role).urls, text)
        monkeypatch.setenv(role_env(role).model, "served-name")
        args = parse([])
        client = endpoint_client(args, role, getattr(args, f"{role}_model"))
        assert (client.endpoints, client.model) == ([fake_openai.base_url], "served-name"), name


async def test_the_reward_takes_every_form_and_the_router_address(fake_openai, monkeypatch):
    monkeypatch.delenv("FINR1_JUDGE_URLS", raising=False)
    fake_openai.responder = lambda body: Reply(content="\\boxed{1}")
    answer = "<think>\nx\n</think>\n<answer>\n\\boxed{答案是增长}\n</answer>"
    for i, (name, form) in enumerate(forms(fake_openai).items()):
        settings = ScoreSettings.from_kwargs({"judge_urls": form, "judge_model": "fake-model"})
        assert settings.judge.urls == (fake_openai.base_url,), name
        out = await compute_score(
            "finr1/fincuge",
            answer.replace("增长", f"增长{i}"),
            ["收入增长"],
            {"answer_type": "text"},
            judge_urls=form,
            judge_model="fake-model",
        )
        assert out["judged"] == 1.0 and out["judge_error"] == 0.0, name
    hosted = ScoreSettings.from_kwargs({"reward_router_address": fake_openai.address, "judge_model": "m"})
    assert hosted.judge.urls == (fake_openai.base_url,)


def test_the_filter_default_judge_is_what_serve_judge_serves():
    script = (REPO / "scripts" / "serve_judge.sh").read_text()
    served = re.search(r'model="\$\{JUDGE_MODEL:-([^}]+)\}"\nfi', script)[1]
    assert cli_filter.DEFAULT_JUDGE == served == "Qwen/Qwen2.5-72B-Instruct"
    assert "FINR1_JUDGE_URLS" in script and "FINR1_JUDGE_URL " not in script
    external = (REPO / "finr1_verl" / "config" / "judge" / "external.yaml").read_text()
    assert f"oc.env:FINR1_JUDGE_MODEL,{served}" in external


def test_the_llm_client_behind_eval_and_the_judges_takes_every_form(fake_openai):
    for name, form in forms(fake_openai).items():
        client = LLMClient(form, "fake-model")
        assert client.endpoints == [fake_openai.base_url], name
        assert run_sync(_ask(client)) == "ok"


def test_doctor_probes_every_form_where_the_reward_will_call(fake_openai):
    from finr1_verl import doctor
    from finr1_verl.recipes import compose_recipe

    kw = "reward.custom_reward_function.reward_kwargs"
    for name, form in forms(fake_openai).items():
        value = "[" + ",".join(f"'{u}'" for u in form) + "]" if isinstance(form, list) else f"'{form}'"
        cfg = compose_recipe("grpo", [f"{kw}.judge_urls={value}", f"{kw}.judge_model=fake-model"])
        assert [c.line() for c in doctor.check_judges(cfg)] == [
            f"ok    judge: {fake_openai.base_url} serves fake-model"
        ], name
    assert fake_openai.requests == []
