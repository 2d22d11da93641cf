"""The Challenger tab's Promote button (PromoteButton): when it is enabled, what it says
when it is not, that it asks before promoting, and what it shows after. The promotion and
the signed-in user are stand-ins here; tests/apps/test_dashboard_promote.py clicks the
real one in a real dashboard."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench._exceptions import PromotionRefused
from workbench._visitors import Visitor
from workbench.monitoring._compare import PromoteButton
from workbench.packaging import Promotion


def _comparison(champion_mae: float, challenger_mae: float) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"role": "champion", "version": "1", "requests": 20, "rows": 40,
             "mae": champion_mae, "rmse": champion_mae * 1.2},
            {"role": "challenger", "version": "2", "requests": 20, "rows": 40,
             "mae": challenger_mae, "rmse": challenger_mae * 1.2},
        ]
    )  # fmt: skip


class Who:
    def __init__(self, visitor: Visitor) -> None:
        self.visitor = visitor

    def __call__(self) -> Visitor:
        return self.visitor


class Promote:
    def __init__(self, refuse: str = "") -> None:
        self.calls: list[str] = []
        self.refuse = refuse

    def __call__(self, user: str) -> Promotion:
        self.calls.append(user)
        if self.refuse:
            raise PromotionRefused(self.refuse)
        return Promotion("tiny", 2, 1, "mae", "minimize", 0.5, 1.0, False, 40, "mae 0.5 vs 1",
                         promoted_by=user)  # fmt: skip


def test_a_signed_in_user_is_asked_then_promotes() -> None:
    who, promote = Who(Visitor("alice")), Promote()
    button = PromoteButton("tiny", _comparison(1.0, 0.5), promote, visitor=who, poll=0)
    assert not button.button.disabled
    assert "Signed in as <b>alice</b>" in button.note.value
    button.button.click()
    assert promote.calls == []  # nothing happens before the confirmation
    assert button.dialog.layout.display == "flex" and button.button.disabled
    assert "from v1 to <b>v2</b>, as <b>alice</b>?" in button.question.value
    button.confirm.click()
    assert promote.calls == ["alice"]
    assert "v2 is @champion</b>, promoted by alice" in button.outcome.value
    assert button.button.disabled and button.dialog.layout.display == "none"


def test_cancel_changes_nothing() -> None:
    promote = Promote()
    button = PromoteButton(
        "tiny", _comparison(1.0, 0.5), promote, visitor=Who(Visitor("alice")), poll=0
    )
    button.button.click()
    button.cancel.click()
    assert promote.calls == [] and not button.button.disabled
    assert button.dialog.layout.display == "none"


def test_signing_out_before_confirming_promotes_nothing() -> None:
    who, promote = Who(Visitor("alice")), Promote()
    button = PromoteButton("tiny", _comparison(1.0, 0.5), promote, visitor=who, poll=0)
    button.button.click()
    who.visitor = Visitor(None, "You are not signed in (or your session ended): sign in again.")
    button.confirm.click()
    assert promote.calls == []
    assert button.button.disabled and "sign in again" in button.note.value


@pytest.mark.parametrize(
    ("visitor", "words"),
    [
        (Visitor(None, "This dashboard has no login, so it cannot tell who you are."), "no login"),
        (Visitor(None, "You are not signed in (or your session ended)."), "not signed in"),
    ],
)
def test_nobody_named_disables_it_with_the_reason(visitor: Visitor, words: str) -> None:
    button = PromoteButton("tiny", _comparison(1.0, 0.5), Promote(), visitor=Who(visitor), poll=0)
    assert button.button.disabled and words in button.note.value


def test_a_worse_challenger_disables_it_whoever_asks() -> None:
    button = PromoteButton(
        "tiny", _comparison(0.5, 1.0), Promote(), visitor=Who(Visitor("alice")), poll=0
    )
    assert button.button.disabled
    assert "The challenger is worse: its MAE is 1 against the champion&#x27;s 0.5 on the same 20 " \
        "requests, so @champion stays with v1." in button.note.value  # fmt: skip


def test_a_refusal_at_promotion_time_is_shown_on_the_page() -> None:
    promote = Promote(refuse="Not promoting 'tiny': challenger v2 mae=2 vs champion v1 mae=1")
    button = PromoteButton(
        "tiny", _comparison(1.0, 0.5), promote, visitor=Who(Visitor("alice")), poll=0
    )
    button.button.click()
    button.confirm.click()
    assert promote.calls == ["alice"]
    assert "Not promoted.</b> Not promoting &#x27;tiny&#x27;: challenger v2" in button.outcome.value
    assert button.button.disabled


def test_refresh_follows_who_is_signed_in() -> None:
    who = Who(Visitor(None, "You are not signed in (or your session ended): sign in again."))
    button = PromoteButton("tiny", _comparison(1.0, 0.5), Promote(), visitor=who, poll=0)
    assert button.button.disabled
    who.visitor = Visitor("alice")  # the page's visitor arrived (a preheated page)
    button.refresh()
    assert not button.button.disabled and "alice" in button.note.value


def test_without_actuals_there_is_nothing_to_promote_on() -> None:
    empty = _comparison(1.0, 0.5).iloc[0:0]
    button = PromoteButton("tiny", empty, Promote(), visitor=Who(Visitor("alice")), poll=0)
    assert button.button.disabled and "no request both versions answered" in button.note.value
