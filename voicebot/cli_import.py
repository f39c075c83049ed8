"""`voicebot kb import FILE --to DIR`: build a knowledge base from a CSV/XLSX spreadsheet."""

from __future__ import annotations

from pathlib import Path

import click

from voicebot.errors import ImportFormatError
from voicebot.kb_import import import_spreadsheet


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--to",
    "to",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Папка базы знаний, куда записать bot.yaml и faq/*.yaml.",
)
@click.option("--replace", is_flag=True, help="Заменить уже имеющиеся файлы faq/*.yaml.")
@click.option("--sheet", default=None, metavar="NAME", help="Лист XLSX (по умолчанию первый).")
def import_command(file: Path, to: Path, replace: bool, sheet: str | None) -> None:
    """Import an FAQ spreadsheet (.csv or .xlsx) into a knowledge-base directory."""
    try:
        report = import_spreadsheet(file, to, replace=replace, sheet=sheet)
    except ImportFormatError as exc:
        message = " ".join(str(exc).split())  # one line, whatever the cause
        click.echo(f"Ошибка импорта: {message}", err=True)
        raise SystemExit(1) from None
    for line in report.summary_lines():
        click.echo(line)
    click.echo(
        "Дальше: запишите примеры вопросов клиентов в eval/*.jsonl и подберите пороги: "
        f"voicebot kb calibrate {to} --write (до этого бот отвечает осторожно)."
    )
