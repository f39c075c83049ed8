"""`voicebot ...` commands: ask, chat, kb check/eval/calibrate/import, models."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import ParamSpec, TypeVar

import click

from voicebot.cli_call import call_command
from voicebot.cli_import import import_command
from voicebot.cli_models import models as models_group
from voicebot.cli_publish import publish_command
from voicebot.cli_serve import serve_command
from voicebot.cli_users import users_group
from voicebot.config import Settings
from voicebot.errors import KnowledgeBaseError, VoicebotError
from voicebot.knowledge import KnowledgeBase, Thresholds, check_knowledge_base, load_knowledge_base

P = ParamSpec("P")
R = TypeVar("R")

KB_OPTION = click.option(
    "--kb",
    "kb_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Knowledge-base directory (default: VOICEBOT_KB_DIR or ./knowledge_base).",
)


def friendly_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn voicebot errors into a one-line message (plus listed problems) and exit code 1."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except VoicebotError as exc:
            click.echo(f"ошибка [{exc.code}]: {exc}", err=True)
            if isinstance(exc, KnowledgeBaseError):
                for problem in exc.problems:
                    click.echo(f"  {problem}", err=True)
            sys.exit(1)

    return wrapper


def _load(kb_dir: Path | None) -> tuple[Settings, KnowledgeBase]:
    settings = Settings()
    kb = load_knowledge_base(kb_dir or settings.kb_dir)
    return settings, kb


@click.group()
@click.version_option(package_name="voicebot")
def main() -> None:
    """voicebot: the Russian-language first line of a telephone hotline."""


@main.command()
@click.argument("text")
@KB_OPTION
@click.option(
    "--alt", "alternatives", multiple=True, help="An n-best alternative of the recogniser."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@friendly_errors
def ask(text: str, kb_dir: Path | None, alternatives: tuple[str, ...], as_json: bool) -> None:
    """Match one question: the decision, the top candidates with scores, and the time."""
    from voicebot.composition import build_matcher
    from voicebot.matcher import decide

    settings, kb = _load(kb_dir)
    matcher = build_matcher(settings, kb)
    ranking = matcher.rank(text, alternatives)
    decision = decide(ranking.candidates, matcher.thresholds)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "text": text,
                    "normalized": ranking.normalized,
                    "decision": decision.kind,
                    "entry_id": decision.entry_id,
                    "answer": kb.entry(decision.entry_id).answer if decision.entry_id else None,
                    "candidates": [
                        {
                            "entry_id": c.entry_id,
                            "score": round(c.score, 4),
                            "lexical": round(c.lexical, 4),
                            "semantic": round(c.semantic, 4),
                        }
                        for c in ranking.candidates
                    ],
                    "elapsed_ms": round(ranking.elapsed_ms, 2),
                },
                ensure_ascii=False,
            )
        )
        return
    labels = {"answer": "ответ", "clarify": "уточнение", "escalate": "перевод на оператора"}
    click.echo(
        f"решение: {labels[decision.kind]}"
        + (f" ({decision.entry_id})" if decision.entry_id else "")
    )
    if decision.entry_id:
        click.echo(f"ответ: {kb.entry(decision.entry_id).answer}")
    click.echo("кандидаты:")
    for c in ranking.candidates:
        click.echo(
            f"  {c.score:.3f}  {c.entry_id:<28} лексика {c.lexical:.3f}  смысл {c.semantic:.3f}"
        )
    click.echo(f"время: {ranking.elapsed_ms:.1f} мс")


@main.command()
@KB_OPTION
@friendly_errors
def chat(kb_dir: Path | None) -> None:
    """A text conversation with the bot in the terminal (a single digit is a key press)."""
    from voicebot.composition import build_matcher
    from voicebot.conversation import Conversation
    from voicebot.dialogue import DialoguePolicy, Escalate, Say

    settings, kb = _load(kb_dir)
    conversation = Conversation(build_matcher(settings, kb), DialoguePolicy(kb))

    def show(actions: list[Say | Escalate | object]) -> None:
        for action in actions:
            if isinstance(action, Say):
                click.echo(f"бот> {action.text}")
            elif isinstance(action, Escalate) and conversation.escalation is not None:
                click.echo("\n=== карточка для оператора ===")
                click.echo(conversation.escalation.summary)

    show(list(conversation.start()))
    while not conversation.ended:
        try:
            line = input("вы> ").strip()
        except EOFError:
            break
        if not line:
            continue
        if re.fullmatch(r"[0-9*#]", line):
            show(list(conversation.press(line)))
        else:
            show(list(conversation.hear(line)))


@main.group()
def kb() -> None:
    """Knowledge-base tools."""


kb.add_command(import_command)
kb.add_command(publish_command)
main.add_command(models_group)
main.add_command(serve_command)
main.add_command(call_command)
main.add_command(users_group)


@kb.command("check")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--no-model", is_flag=True, help="Skip the checks that need the embedding model.")
@friendly_errors
def kb_check(directory: Path, no_model: bool) -> None:
    """Validate a knowledge base: every problem with file and line."""
    problems = check_knowledge_base(directory)
    errors = [p for p in problems if p.severity == "error"]
    if not errors and not no_model:
        from voicebot.composition import build_matcher
        from voicebot.kb_lint import confusable_questions

        kb_loaded = load_knowledge_base(directory)
        problems += confusable_questions(build_matcher(Settings(), kb_loaded))
    for problem in problems:
        click.echo(str(problem))
    warnings = len(problems) - len(errors)
    if errors:
        click.echo(f"ошибок: {len(errors)}, предупреждений: {warnings}", err=True)
        sys.exit(1)
    kb_loaded = load_knowledge_base(directory)
    questions = sum(len(e.questions) for e in kb_loaded.entries)
    click.echo(
        f"в порядке: записей {len(kb_loaded.entries)}, вопросов {questions}, "
        f"предупреждений {warnings}"
    )


@kb.command("eval")
@click.argument("directory", type=click.Path(path_type=Path))
@click.argument("cases", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@friendly_errors
def kb_eval(directory: Path, cases: Path, as_json: bool) -> None:
    """Measure the matcher on labelled phrasings (JSON lines: text, expected, accept)."""
    from voicebot.composition import build_matcher
    from voicebot.evaluation import load_eval_cases, report, score_cases

    knowledge = load_knowledge_base(directory)
    eval_cases = load_eval_cases(cases, knowledge)
    matcher = build_matcher(Settings(), knowledge)
    result = report(score_cases(matcher, eval_cases), matcher.thresholds)
    if as_json:
        click.echo(result.to_json())
        return
    for name, value in vars(result).items():
        click.echo(f"{name:<18} {value}")


@kb.command("calibrate")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--cases",
    "case_files",
    multiple=True,
    type=click.Path(path_type=Path, exists=True),
    help="Eval case files (default: DIRECTORY/eval/*.jsonl).",
)
@click.option("--max-wrong", default=0.03, show_default=True, help="Highest wrong-answer rate.")
@click.option(
    "--max-oos", default=0.05, show_default=True, help="Highest out-of-scope answer rate."
)
@click.option("--write", is_flag=True, help="Write the thresholds into DIRECTORY/bot.yaml.")
@friendly_errors
def kb_calibrate(
    directory: Path, case_files: tuple[Path, ...], max_wrong: float, max_oos: float, write: bool
) -> None:
    """Pick thresholds from eval cases and print the coverage/precision trade-off."""
    from voicebot.composition import build_matcher
    from voicebot.evaluation import CalibrationTargets, calibrate, load_eval_cases, score_cases

    knowledge = load_knowledge_base(directory)
    files = list(case_files) or sorted((directory / "eval").glob("*.jsonl"))
    if not files:
        raise KnowledgeBaseError(f"нет файлов с примерами в {directory / 'eval'}")
    eval_cases = [c for f in files for c in load_eval_cases(f, knowledge)]
    matcher = build_matcher(Settings(), knowledge)
    result = calibrate(score_cases(matcher, eval_cases), CalibrationTargets(max_wrong, max_oos))
    click.echo("порог   отвечено  точность  верно   ошибок  вне темы отвечено")
    for answer, r in result.tradeoff:
        answered = r.answered_correct + r.answered_wrong
        coverage = answered / r.in_scope if r.in_scope else 0.0
        precision = r.answered_correct / (answered + r.oos_answered) if answered else 1.0
        click.echo(
            f"{answer:5.2f}   {coverage:7.3f}  {precision:8.3f}  {r.accuracy:6.3f}  "
            f"{r.wrong_answer_rate:6.3f}  {r.oos_answer_rate:6.3f}"
        )
    t = result.thresholds
    click.echo(f"\nвыбрано: answer={t.answer} clarify={t.clarify} margin={t.margin}")
    click.echo(f"на всех примерах: {result.report.to_json()}")
    if result.cross_validated:
        click.echo(f"перекрёстная проверка (5 частей): {result.cross_validated.to_json()}")
    if not result.meets_targets:
        click.echo(
            "внимание: ни один порог не укладывается в ограничения (--max-wrong, --max-oos); "
            "бот почти ничего не будет отвечать сам. Добавьте вопросы в записи и примеры в eval/.",
            err=True,
        )
    if write:
        write_thresholds(directory / "bot.yaml", t)
        click.echo(f"записано в {directory / 'bot.yaml'}")


def write_thresholds(bot_yaml: Path, thresholds: Thresholds) -> None:
    """Replace (or append) the `thresholds:` block of bot.yaml, keeping the rest of the file as is."""
    text = bot_yaml.read_text(encoding="utf-8") if bot_yaml.exists() else ""
    block = (
        f"thresholds:\n  answer: {thresholds.answer}\n  clarify: {thresholds.clarify}\n"
        f"  margin: {thresholds.margin}\n"
    )
    pattern = re.compile(r"^thresholds:.*\n(?:[ \t]+.*\n?)*", re.MULTILINE)
    if pattern.search(text):
        text = pattern.sub(block, text, count=1)
    else:
        text = text + ("" if text.endswith("\n") or not text else "\n") + block
    bot_yaml.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
