"""The spec covers the reference documentation pages.

Checks spec/*.toml against reference_facts.json (the facts extract_reference.py
takes from the four pages):

- every item a page documents or names is in the spec and lists that page;
- the spec's signature, or its signature_on entry for the page, is the
  parameter list the page prints (whitespace aside);
- the kind (method, coroutine, awaitable, attribute) is the newest page's;
- every version note of every page is in that item's history, with the
  same version and change and the page listed, and no history entry claims
  a page that does not print it;
- an item lists only pages that really document it.

When the pages themselves are at hand (../shared/reference), the facts file
is also checked to be what extract_reference.py makes of them now.

Run: python3 -m unittest discover -s tests/spec -v
"""

import ast
import collections
import json
import sys
import tomllib
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SPEC = REPO / "spec"
FACTS = HERE / "reference_facts.json"
NOT_ITEMS = {"types.toml", "owners.toml", "status.toml"}
DOC_PAGES = ["3.6", "3.8", "3.9+"]          # oldest to newest
ALL_PAGES = DOC_PAGES + ["index"]

sys.path.insert(0, str(HERE))
import extract_reference  # noqa: E402


def load_spec():
    items, where = {}, {}
    for path in sorted(SPEC.glob("*.toml")):
        if path.name in NOT_ITEMS:
            continue
        with open(path, "rb") as f:
            data = tomllib.load(f)
        for item in data.get("item", []):
            key = (item["owner"], item["name"])
            if key in items:
                raise AssertionError(f"{path.name}: {key} already in {where[key]}")
            items[key] = item
            where[key] = path.name
    return items, where


def normalise(params):
    """A parameter list with whitespace made canonical."""
    text = " ".join(params.split())
    for a, b in (("( ", "("), (" )", ")"), (" ,", ","), (", ", ","), (",", ", ")):
        text = text.replace(a, b)
    return text


def ident(key):
    return f"{key[0]}.{key[1]}"


class SpecCoverage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.items, cls.where = load_spec()
        cls.facts = json.loads(FACTS.read_text(encoding="utf-8"))["pages"]
        with open(SPEC / "owners.toml", "rb") as f:
            cls.owners = tomllib.load(f)["owners"]
        with open(SPEC / "types.toml", "rb") as f:
            cls.types = tomllib.load(f)["types"]

    def page_items(self, page):
        return {(f["owner"], f["name"]): f for f in self.facts[page]["items"]}

    def test_facts_cover_all_pages(self):
        self.assertEqual(list(self.facts), ALL_PAGES)
        for page in ALL_PAGES:
            self.assertTrue(self.facts[page]["items"], page)

    def test_every_documented_item_is_in_the_spec(self):
        for page in ALL_PAGES:
            for key in self.page_items(page):
                with self.subTest(page=page, item=ident(key)):
                    self.assertIn(key, self.items, "missing from spec/")
                    self.assertIn(page, self.items[key]["pages"],
                                  f"{self.where[key]}: pages lacks {page!r}")

    def test_signatures_match_each_page(self):
        for page in DOC_PAGES:
            for key, fact in self.page_items(page).items():
                if fact["params"] is None or key not in self.items:
                    continue
                item = self.items[key]
                with self.subTest(page=page, item=ident(key)):
                    on = item.get("signature_on", {})
                    written = on.get(page, item["signature"])
                    self.assertEqual(normalise(written), normalise(fact["params"]),
                                     f"{self.where[key]}: signature for page {page}")

    def test_signature_on_only_where_pages_differ(self):
        for key, item in self.items.items():
            for page, sig in item.get("signature_on", {}).items():
                with self.subTest(item=ident(key), page=page):
                    self.assertIn(page, item["pages"])
                    self.assertNotEqual(normalise(sig), normalise(item["signature"]),
                                        "signature_on repeats signature")

    def test_signature_is_the_newest_pages(self):
        """The signature is the newest page's, or a newer version's: then
        signature_on gives the newest page's, and a history entry of no
        reference page (pages = []) names each parameter it lacks."""
        for key, item in self.items.items():
            newest = [p for p in DOC_PAGES if p in item["pages"]]
            if not newest:
                continue
            fact = self.page_items(newest[-1])[key]
            if fact["params"] is None:
                continue
            with self.subTest(item=ident(key)):
                on = item.get("signature_on", {}).get(newest[-1])
                if on is None:
                    self.assertEqual(normalise(item["signature"]), normalise(fact["params"]))
                    continue
                self.assertEqual(normalise(on), normalise(fact["params"]))
                have = set(self.param_names(on))
                added = set(self.param_names(item["signature"])) - have
                noted = {p for h in item.get("history", []) if not h.get("pages")
                         for p in h.get("params", [])}
                self.assertTrue(added and added <= noted,
                                f"parameters {sorted(added)} newer than page {newest[-1]} "
                                "need a history entry naming them (pages = [])")

    @staticmethod
    def param_names(signature):
        a = ast.parse("def f" + signature + ": pass").body[0].args
        names = [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs]
        return names + [p.arg for p in (a.vararg, a.kwarg) if p]

    def test_kind_is_the_newest_pages(self):
        for key, item in self.items.items():
            newest = [p for p in DOC_PAGES if p in item["pages"]]
            if not newest:
                continue
            with self.subTest(item=ident(key)):
                self.assertEqual(item["kind"], self.page_items(newest[-1])[key]["kind"])

    def test_every_version_note_is_in_history(self):
        for page in DOC_PAGES:
            for key, fact in self.page_items(page).items():
                if key not in self.items:
                    continue
                item = self.items[key]
                on_page = collections.Counter(
                    (n["version"], n["change"]) for n in fact["notes"])
                in_spec = collections.Counter(
                    (h["version"], h["change"]) for h in item.get("history", [])
                    if page in h.get("pages", []))
                with self.subTest(page=page, item=ident(key)):
                    self.assertEqual(in_spec, on_page,
                                     f"{self.where[key]}: history entries listing page {page}")

    def test_history_pages_are_documenting_pages(self):
        for key, item in self.items.items():
            for entry in item.get("history", []):
                with self.subTest(item=ident(key), version=entry["version"]):
                    self.assertTrue(set(entry["pages"]) <= set(item["pages"]) - {"index"})

    def test_items_list_only_pages_that_document_them(self):
        index = self.page_items("index")
        index_classes = set(self.facts["index"]["classes"])
        for key, item in self.items.items():
            for page in item["pages"]:
                with self.subTest(item=ident(key), page=page):
                    self.assertIn(page, ALL_PAGES)
                    if page == "index":
                        named = key in index or (
                            self.owners[key[0]]["python"] in index_classes)
                        self.assertTrue(named, "the index does not name it")
                    else:
                        self.assertIn(key, self.page_items(page))

    def test_items_off_the_pages_name_their_source(self):
        for key, item in self.items.items():
            documented = [p for p in item["pages"] if p != "index"]
            with self.subTest(item=ident(key)):
                if not documented:
                    self.assertTrue(item.get("source"), "no page documents it: needs source")
                else:
                    self.assertNotIn("source", item, "a page documents it: no source")

    def test_params_match_signature_and_have_types(self):
        for key, item in self.items.items():
            with self.subTest(item=ident(key)):
                self.assertIn(key[0], self.owners)
                tree = ast.parse("def f" + item["signature"] + ": pass")
                a = tree.body[0].args
                names = [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs]
                names += [p.arg for p in (a.vararg, a.kwarg) if p]
                params = item.get("params", {})
                self.assertEqual(sorted(names), sorted(params))
                for name, param in params.items():
                    self.assertIn(param["type"], self.types, f"param {name}")
                for sig in item.get("signature_on", {}).values():
                    ast.parse("def f" + sig + ": pass")


class FactsUpToDate(unittest.TestCase):
    def test_facts_match_the_pages(self):
        directory = extract_reference.DEFAULT_DIR
        if not directory.is_dir():
            self.skipTest(f"{directory} not present")
        fresh = extract_reference.dumps(extract_reference.extract(directory))
        self.assertEqual(FACTS.read_text(encoding="utf-8"), fresh,
                         "reference_facts.json is stale: run tests/spec/extract_reference.py")


if __name__ == "__main__":
    unittest.main()
