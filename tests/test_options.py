"""The one options schema: its checks, the CLI generated from it, the README's table."""
from pathlib import Path

import pytest

from fabricate.errors import BadOption
from fabricate.options import MakeOptions, all_option_fields, options_markdown, with_options_table
from fabricate.reconstruct import MODELS
from fabricate.schema import check_value

from conftest import SAMPLES, run_cli

README = Path(__file__).resolve().parents[1] / "README.md"


def cli_options() -> dict:
    """The `make` command's options by name, as click declares them."""
    from fabricate.cli import make

    return {p.name: p for p in make.params if p.name in {f.name for f in all_option_fields()}}


def test_cli_declares_every_option_with_the_schema_defaults():
    params = cli_options()
    fields = all_option_fields()
    assert sorted(params) == sorted(f.name for f in fields)  # click lists params in decorator order, not ours
    for f in fields:
        param = params[f.name]
        assert param.opts[0] == f.flag
        assert param.default == f.default, f.name
        assert param.required == f.required, f.name


def test_orientation_choices_include_least_support():
    field = next(f for f in all_option_fields() if f.name == "orientation")
    assert "least-support" in field.spec.allowed()
    assert "least-support" in cli_options()["orientation"].metavar
    MakeOptions(printer="bambu-a1", orientation="least-support").validate()


@pytest.mark.parametrize("changes,message", [
    (dict(height_mm=float("nan")), "finite"),
    (dict(height_mm=-5.0), "above 0"),
    (dict(resolution=300), "resolution"),
    (dict(walls=2.5), "whole number"),
    (dict(infill=101.0), "at most 100"),
    (dict(orientation="upside-down"), "least-support"),
    (dict(title="bad\x00title"), "control characters"),
    (dict(title="x" * 201), "longer than 200"),
    (dict(printer="bambu-a2"), "did you mean bambu-a1"),
    (dict(views="up"), "unknown view"),
    (dict(views="front,left"), "2 views for 1 photo"),
    (dict(model_options={"bogus": 1}), "does not use --bogus"),
    (dict(model_options={"back": "sideways"}), "unknown back"),
])
def test_bad_choices_are_refused_naming_the_option(changes, message):
    options = MakeOptions(**{"printer": "bambu-a1", **changes})
    with pytest.raises(BadOption, match=message):
        options.validate()


def test_model_options_reach_only_their_model():
    options = MakeOptions.from_flat({"printer": "bambu-a1", "back": "flat", "relief": None})
    assert options.model_options == {"back": "flat"}
    assert options.validate().reconstructor.back == "flat"
    if "neural" not in MODELS:
        pytest.skip("the neural model needs torch")
    with pytest.raises(BadOption, match="the neural model does not use --back"):
        MakeOptions.from_flat({"printer": "bambu-a1", "model": "neural", "back": "flat"}).validate()


def test_booleans_and_numbers_are_typed():
    field = next(f for f in all_option_fields() if f.name == "support_buildplate_only")
    assert check_value(field, True) is True
    with pytest.raises(BadOption):
        check_value(field, "yes")
    walls = next(f for f in all_option_fields() if f.name == "walls")
    assert check_value(walls, 3.0) == 3 and isinstance(check_value(walls, 3.0), int)


def test_readme_carries_the_generated_table():
    text = README.read_text()
    assert with_options_table(text) == text, "run: python -m fabricate.options README.md"
    assert options_markdown() in text


def test_cli_refuses_an_option_the_model_does_not_use(tmp_path):
    if "neural" not in MODELS:
        pytest.skip("the neural model needs torch")
    out = tmp_path / "x.3mf"
    result = run_cli("make", SAMPLES[0], "-p", "bambu-a1", "-o", out, "--model", "neural", "--back", "flat")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == ("error: the neural model does not use --back (it takes no options)")
    assert not out.exists()


def test_cli_usage_errors_are_one_line(tmp_path):
    result = run_cli("make", SAMPLES[0], "-p", "bambu-a1", "-o", tmp_path / "x.3mf", "--walls", "many")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "--walls" in result.stderr


def test_one_photo_options_are_refused_with_several_photos():
    options = MakeOptions.from_flat({"printer": "bambu-a1", "back": "flat"})
    options.validate(1)
    with pytest.raises(BadOption, match="--back shapes the side one photo cannot see"):
        options.validate(3)
    with pytest.raises(BadOption, match="1 to 8 photos"):
        MakeOptions(printer="bambu-a1").validate(9)


# ---------------------------------------------------------------- the CLI, the API and the page agree
# Each surface's option set is read back from what that surface really offers (click's params,
# the OpenAPI schema, the rendered HTML form), then the three are compared field by field.

#: What only the CLI has (where to write, what else to do) and only the web has (the uploaded photos).
CLI_ONLY = {"photos", "output", "slice_gcode", "also", "quiet"}
API_ONLY = {"photo"}
#: A yes/no option's choices, however a surface spells it (a flag pair, a boolean, a yes/no select).
YES_NO = ("false", "true")


def as_text(value):
    """One spelling for a default or choice on every surface: None for unset, else text."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def cli_option_set() -> dict:
    """name -> (required, default, choices) from the `make` command's click parameters."""
    import click

    from fabricate.cli import make

    found = {}
    for p in make.params:
        if p.name in CLI_ONLY:
            continue
        if p.secondary_opts:  # --flag/--negative
            choices = YES_NO
        elif isinstance(p.type, click.Choice):
            choices = tuple(map(str, p.type.choices))
        elif p.metavar and p.metavar.startswith("["):
            choices = tuple(p.metavar.strip("[]").split("|"))
        else:
            choices = None  # too many to list in --help (printers): not compared for the CLI
        found[p.name] = (p.required, as_text(p.default), choices)
    return found


def api_option_set(app) -> dict:
    """name -> (required, default, choices) from the OpenAPI schema of POST /api/jobs."""
    schema = app.openapi()
    body = schema["paths"]["/api/jobs"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    form = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    found = {}
    for name, prop in form["properties"].items():
        if name in API_ONLY:
            continue
        types = {t.get("type") for t in prop.get("anyOf", [prop])}
        choices = YES_NO if "boolean" in types else (
            tuple(map(str, prop["enum"])) if "enum" in prop else None)
        found[name] = (name in form.get("required", []), as_text(prop.get("default")), choices)
    return found


def page_option_set(html: str) -> dict:
    """name -> (required, default, choices) from the page's rendered build form."""
    from html.parser import HTMLParser

    class FormReader(HTMLParser):
        def __init__(self):
            super().__init__()
            self.fields, self.select, self.in_form = {}, None, False

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "form":
                self.in_form = a.get("id") == "build-form"
            if not self.in_form:
                return
            if tag in ("input", "select") and a.get("name"):
                field = {"required": "required" in a, "default": None if tag == "select" else a.get("value"),
                         "choices": [] if tag == "select" else None}
                self.fields[a["name"]] = field
                self.select = field if tag == "select" else None
            elif tag == "option" and self.select is not None:
                if a.get("value"):
                    self.select["choices"].append(a["value"])
                if "selected" in a:
                    self.select["default"] = a.get("value")

        def handle_endtag(self, tag):
            if tag == "select":
                self.select = None
            elif tag == "form":
                self.in_form = False

    reader = FormReader()
    reader.feed(html)
    found = {}
    for name, f in reader.fields.items():
        choices = f["choices"]
        if choices is not None:
            choices = YES_NO if set(choices) == set(YES_NO) else tuple(choices)
        found[name] = (f["required"], as_text(f["default"]), choices)
    return found


def test_cli_api_and_page_offer_the_same_options(tmp_path):
    from fastapi.testclient import TestClient

    from web.app import create_app

    app = create_app(data_dir=tmp_path)
    page_response = TestClient(app).get("/")
    assert page_response.status_code == 200
    cli, api, page = cli_option_set(), api_option_set(app), page_option_set(page_response.text)
    schema = [f.name for f in all_option_fields()]
    assert list(api) == schema, "the API's form lists the schema's fields in display order"
    assert set(cli) == set(schema) and set(page) == set(schema)
    assert list(page) == schema, "the page shows the fields in display order"
    for name in schema:
        (cli_required, cli_default, cli_choices), (api_required, api_default, api_choices) = cli[name], api[name]
        page_required, page_default, page_choices = page[name]
        assert cli_required == api_required == page_required, name
        if not cli_required:  # a required field has no default; the page may start on a sensible one
            assert cli_default == api_default == page_default, (name, cli_default, api_default, page_default)
        assert api_choices == page_choices, (name, api_choices, page_choices)
        assert cli_choices is None or cli_choices == api_choices, (name, cli_choices, api_choices)
    # Every list of choices is the schema's, on each surface.
    for f in all_option_fields():
        allowed = f.spec.allowed()
        if allowed is not None:
            assert api[f.name][2] == tuple(map(str, allowed)), f.name
    assert page["printer"][1] in api["printer"][2]


def test_the_api_schema_documents_help_ranges_and_units():
    from web.forms import JobForm

    props = JobForm.model_json_schema()["properties"]
    for f in all_option_fields():
        prop = props[f.name]
        assert prop["description"] == f.spec.help, f.name
        if f.spec.maximum is not None:
            assert prop["maximum"] == f.spec.maximum, f.name
        if f.spec.minimum is not None:
            key = "exclusiveMinimum" if f.spec.exclusive_minimum else "minimum"
            assert prop[key] == f.spec.minimum, f.name
    assert props["height_mm"]["x-unit"] == "mm"
    assert props["orientation"]["enum"] == ["photo", "stable", "least-support"]
