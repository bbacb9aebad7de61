"""core.options: the reader-option parser every plugin's datasets share."""
from dataclasses import dataclass
from typing import Optional

import pytest

from core.errors import UserError
from core.options import boolean, choice, flag, fraction, integer, items, number, parse_options, regex


@dataclass(frozen=True)
class Opts:
    size: int = 64
    rate: Optional[float] = None
    share: float = 0.2
    mode: str = "a"
    on: bool = False
    names: Optional[tuple] = None
    pattern: Optional[str] = None
    column: Optional[str] = None


RULES = {"size": integer(8), "rate": number(0, low_open=True), "share": fraction(), "mode": choice("a", "b"),
         "on": boolean(), "names": items("x,y"), "pattern": regex()}


def parse(**options):
    return parse_options(options, Opts, RULES, dataset="demo/files")


def test_strings_from_the_cli_become_typed_values():
    opts = parse(size="128", rate="250.5", share="0.1", mode="b", on="YES", names=" I, II ,", pattern=r"(\w+)_",
                 column="  label ")
    assert opts == Opts(128, 250.5, 0.1, "b", True, ("I", "II"), r"(\w+)_", "label")


def test_typed_values_from_a_config_file_and_unset_values_keep_the_defaults():
    assert parse(size=32.0, on=False, names=["a", "b"], rate=None, column="") == Opts(size=32, on=False,
                                                                                      names=("a", "b"))


def test_unknown_names_list_the_known_ones():
    with pytest.raises(UserError, match="demo/files has no option 'colour'; it takes: size, rate"):
        parse(colour="red")
    with pytest.raises(UserError, match="has no option 'size'; it takes: mode$"):
        parse_options({"size": 3}, Opts, RULES, dataset="demo/files", allowed=("mode",))


@pytest.mark.parametrize("key, value, message", [
    ("size", "6.5", "option size='6.5' is not an integer; pass e.g. --size 8"),
    ("size", "4", r"option size='4' must be in \[8, inf\)"),
    ("rate", "0", r"option rate='0' must be in \(0, inf\)"),
    ("rate", "fast", "option rate='fast' is not a number; pass e.g. --rate 1"),
    ("rate", "nan", "is not a number"),
    ("share", "1", r"option share='1' must be in \[0.0, 1.0\)"),
    ("mode", "c", "option mode='c' must be one of a, b"),
    ("on", "maybe", "option on='maybe' must be true or false, e.g. --on true"),
    ("names", " , ", "option names is empty; pass e.g. --names x,y"),
    ("pattern", "(", r"option pattern='\(' is not a regular expression"),
])
def test_a_bad_value_is_one_error_naming_the_option(key, value, message):
    with pytest.raises(UserError, match=message):
        parse(**{key: value})


def test_fixed_values_and_a_dict_as_the_target():
    assert parse_options({"mode": "b"}, Opts, RULES, dataset="d", on=True) == Opts(mode="b", on=True)
    assert parse_options({"size": "9"}, dict, RULES, dataset="d", allowed=("size", "mode")) == {"size": 9}
    assert flag("split_seed") == "--split-seed"
