"""Splits moby_dick_heldout.txt into its chapters (and the epilogue), one document each.

    python3 split_chapters.py OUT.jsonl          one {"text": ...} line per chapter
    python3 split_chapters.py OUT_FOLDER/        one .txt file per chapter

The documents for `subq ppl --documents`; each chapter is the text from its heading line to the
line before the next heading, without the newline that joined it to the next.
"""
import json
import pathlib
import sys

text = (pathlib.Path(__file__).parent / "moby_dick_heldout.txt").read_text(encoding="utf-8")
chapters, current = [], []
for line in text.split("\n"):
    if (line.startswith("CHAPTER ") or line.startswith("Epilogue")) and current:
        chapters.append("\n".join(current))
        current = []
    current.append(line)
chapters.append("\n".join(current))
assert "\n".join(chapters) == text, "the chapters do not join back to the text"

out = pathlib.Path(sys.argv[1])
if sys.argv[1].endswith("/"):
    out.mkdir(parents=True, exist_ok=True)
    for i, chapter in enumerate(chapters):
        (out / f"chapter_{i:02d}.txt").write_text(chapter, encoding="utf-8")
else:
    out.write_text("".join(json.dumps({"text": c}) + "\n" for c in chapters), encoding="utf-8")
print(f"{len(chapters)} documents in {out}")
