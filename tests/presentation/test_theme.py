"""The ``workbench`` plotly template, its palette and the small-multiples helper."""

from __future__ import annotations

import itertools
import math

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from workbench.presentation import (
    PALETTE,
    STATUS_COLORS,
    TEMPLATE,
    apply_theme,
    register_template,
    small_multiples,
)

# Machado, Oliveira & Fernandes (2009), severity 1.0: linear-RGB simulation matrices
CVD = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                   [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                     [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                   [0.004733, 0.691367, 0.303900]],
}  # fmt: skip


def _lab(color: str, matrix: list[list[float]]) -> np.ndarray:
    srgb = np.array([int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    seen = np.clip(np.array(matrix) @ linear, 0, 1)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                    [0.0193, 0.1192, 0.9505]]) @ seen  # fmt: skip
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _closest_pair(colors: list[str], matrix: list[list[float]]) -> float:
    """The smallest CIE76 colour difference between two of ``colors`` as seen through
    ``matrix``."""
    labs = [_lab(c, matrix) for c in colors]
    return min(float(np.linalg.norm(a - b)) for a, b in itertools.combinations(labs, 2))


@pytest.mark.parametrize("deficiency", sorted(CVD))
def test_first_six_colours_stay_apart_for_colour_blind_readers(deficiency: str) -> None:
    ours = _closest_pair(list(PALETTE[:6]), CVD[deficiency])
    assert ours >= 15, (deficiency, ours)
    # the reference: plotly's default colorway has two colours nearly alike for one of them
    plotly_default = list(pio.templates["plotly"].layout.colorway[:6])
    worst = min(_closest_pair(plotly_default, m) for m in CVD.values())
    assert worst < 5


def test_status_text_colours_are_readable_on_white() -> None:
    def luminance(color: str) -> float:
        c = np.array([int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)])
        c = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
        return float(0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2])

    for name, color in STATUS_COLORS.items():  # WCAG AA for text: 4.5:1
        assert (1.05) / (luminance(color) + 0.05) >= 4.5, name


def test_template_is_registered_once_and_leaves_the_default_alone() -> None:
    before = pio.templates.default
    assert register_template() == TEMPLATE
    first = pio.templates[TEMPLATE]
    assert register_template() == TEMPLATE
    assert pio.templates[TEMPLATE] is first
    assert pio.templates.default == before
    layout = first.layout
    assert list(layout.colorway) == list(PALETTE)
    assert layout.autosize is True and layout.width is None
    assert "system-ui" in layout.font.family


def test_register_template_as_default_is_opt_in() -> None:
    before = pio.templates.default
    try:
        register_template(default=True)
        assert pio.templates.default == TEMPLATE
        assert go.Figure().layout.template.layout.colorway == PALETTE
    finally:
        pio.templates.default = before


def test_apply_theme_drops_a_fixed_width_and_keeps_the_height() -> None:
    fig = go.Figure(go.Bar(x=[1], y=[2]), layout={"width": 1200, "height": 300})
    assert apply_theme(fig) is fig
    assert fig.layout.width is None and fig.layout.height == 300
    assert fig.layout.template.layout.colorway == PALETTE
    assert apply_theme(go.Figure(), height=200).layout.height == 200


def test_small_multiples_gives_each_metric_its_own_scale() -> None:
    x = ["w1", "w2", "w3", "w4"]
    fig = small_multiples(
        x,
        {"mae": [2.8, 3.1, None, 4.4], "latency": [12.0, 48.0, 13.0, 12.5], "rows": [9e4] * 4},
        title="per week",
        units={"latency": "ms"},
        thresholds={"mae": ("max", 4.0)},
    )
    assert [t.yaxis for t in fig.data] == ["y", "y2", "y3"]
    assert all(t.xaxis in ("x", "x2", "x3") for t in fig.data)
    assert fig.layout.xaxis.matches == "x3" or fig.layout.xaxis2.matches == "x3"  # shared x
    assert [a.text for a in fig.layout.annotations] == ["mae", "latency (ms)", "rows"]
    mae = fig.data[0]
    assert list(mae.marker.color) == [PALETTE[0], PALETTE[0], PALETTE[0], STATUS_COLORS["alert"]]
    assert list(mae.customdata) == ["2.8", "3.1", "—", "4.4"]  # hover in the kit's format
    assert fig.data[1].customdata[1] == "48 ms"
    (line,) = fig.layout.shapes
    assert line.y0 == 4.0 and line.yref == "y"
    assert fig.layout.width is None and fig.layout.height == 72 + 3 * 150
    assert fig.layout.title.text == "per week"
    assert not any(math.isnan(v) for v in fig.data[2].y)
