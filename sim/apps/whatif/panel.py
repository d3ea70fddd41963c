"""The what-if panel: ipywidgets controls wired to a :class:`~sim.apps.whatif.engine.WhatIf`.

The only module of the what-if that uses ipywidgets (imported when a panel is made, so
importing this module stays light). It shows settings and results; it builds no scenario
and computes nothing itself.
"""

from __future__ import annotations

import html
import time
from collections.abc import Mapping

from sim.apps.whatif.engine import CHARTS, Outcome, WhatIf
from sim.apps.whatif.settings import Settings, cut_date_options, rebalance_blend
from sim.vocabulary import SHORTFALL_POLICIES, SOURCES


class Panel:
    """ipywidgets controls for a :class:`WhatIf`, wired to re-run and redraw on change.

    ``panel.widget`` is the whole panel to display; ``panel.controls`` maps each setting
    to its control (the blend has three, ``blend_national``, ``blend_nhs_family`` and
    ``blend_consultancy``, and ``no_cap`` turns the cap off); ``panel.outcome`` is the
    latest :class:`Outcome` and ``panel.seconds`` the wall time of the latest update,
    redrawing included. Setting a control's ``value`` from code runs an update exactly as
    moving it on screen does.

    Moving one blend slider moves the other two so the three shares add up to 100%.
    Sliders update when released. Only the chart in the open tab is drawn, at ``dpi`` dots
    per inch (twice the screen's 72, so that captions and footnotes stay sharp when the
    chart is shrunk to the notebook's width). While an update runs, the status line shows
    a busy indicator and the charts are dimmed; a chart not drawn yet shows "drawing", never
    an empty (broken) image. :meth:`close` removes the panel and stops the what-if's workers.
    """

    def __init__(self, what_if: WhatIf, dpi: int = 144):
        import ipywidgets as w

        self.what_if = what_if
        self.dpi = dpi
        self.outcome: Outcome | None = None
        self.seconds = 0.0
        self.updates = 0
        self._quiet = False
        d = what_if.defaults
        look = {"style": {"description_width": "17em"}, "layout": w.Layout(width="36em")}
        style = {"continuous_update": False, **look}  # sliders run when released
        rules = [("NOF 2025/26: quartiles within league table", "quartiles")]
        if d.segmentation_rule == "fixed_thresholds" or what_if.thresholds is not None:
            rules.append(("NOF 2026/27: fixed score thresholds", "fixed_thresholds"))
        c = {}
        c["no_cap"] = w.Checkbox(value=d.cap is None, description="No cap on the programme")
        c["cap"] = w.IntSlider(
            value=d.cap if d.cap is not None else 15,
            min=1,
            max=max(40, d.cap or 0),
            description="Programme cap (trusts at once)",
            disabled=d.cap is None,
            **style,
        )

        def slider(value: float, top: float, step: float, label: str, **extra) -> w.FloatSlider:
            """A slider from 0 to ``top``, stretched to hold a larger default value."""
            return w.FloatSlider(
                value=value,
                min=0,
                max=max(top, value),
                step=step,
                description=label,
                **extra,
                **style,
            )

        for key, label, value in (
            ("national_wte", "National team WTE before the cut", d.national_wte),
            ("wte_after_cut", "National team WTE after the cut", d.wte_after_cut),
        ):
            c[key] = slider(value, 100, 1, label)
        c["cut_date"] = w.Dropdown(
            options=cut_date_options(what_if.base),
            value=d.cut_date,
            description="Date of the cut",
            **look,
        )
        c["shortfall_policy"] = w.Dropdown(
            options=[(_POLICY_WORDS[policy], policy) for policy in SHORTFALL_POLICIES],
            value=d.shortfall_policy,
            description="When the national team is short",
            **look,
        )
        for index, source in enumerate(SOURCES):
            c[f"blend_{source}"] = w.FloatSlider(
                value=d.blend[index],
                min=0,
                max=1,
                step=0.05,
                readout_format=".0%",
                description=_SOURCE_WORDS[source],
                **style,
            )
        c["segmentation_rule"] = w.Dropdown(
            options=rules, value=d.segmentation_rule, description="Segmentation rule", **look
        )
        c["low_share"] = slider(
            d.low_share, 0.5, 0.01, "Boards rated low capability", readout_format=".0%"
        )
        c["referral_mode"] = w.Dropdown(
            options=[
                ("from segment 4 with a low-capability board", "segments"),
                ("at random (Poisson), at a fixed rate", "poisson"),
            ],
            value=d.referral_mode,
            description="Referrals",
            **look,
        )
        c["referral_rate"] = slider(
            d.referral_rate,
            40,
            0.5,
            "Referrals per year (Poisson)",
            disabled=d.referral_mode != "poisson",
        )
        self.controls = c
        for control in c.values():
            control.observe(self._changed, names="value")

        def section(title: str, *keys: str):
            return [w.HTML(f"<b>{title}</b>"), *(c[k] for k in keys)]

        left = w.VBox(
            section("The programme", "no_cap", "cap")
            + section(
                "The national team", "national_wte", "wte_after_cut", "cut_date", "shortfall_policy"
            )  # fmt: skip
            + section(
                "Support in the improvement phase (shares add up to 100%)",
                *(f"blend_{s}" for s in SOURCES),
            )
            + section(
                "Entry to the programme",
                "segmentation_rule",
                "low_share",
                "referral_mode",
                "referral_rate",
            )  # fmt: skip
        )
        self.status = w.HTML()
        self.table = w.HTML()
        self.images = {
            key: w.Image(format="png", layout=w.Layout(width="100%", max_width=CHART_WIDTH))
            for key in CHARTS
        }
        # each tab shows its image once drawn, and until then a "drawing" placeholder
        self.frames = {key: w.Box([_busy_box("Drawing the chart")]) for key in CHARTS}
        self._drawn: set[str] = set()  # the charts that show the latest outcome
        self.tabs = w.Tab(children=[self.frames[k] for k in CHARTS])
        for i, title in enumerate(CHARTS.values()):
            self.tabs.set_title(i, title)
        self.tabs.observe(lambda _: self._draw_open_tab(), names="selected_index")
        self.widget = w.VBox(
            [w.HTML(BUSY_STYLE), w.HBox([left, self.table]), self.status, self.tabs]
        )

    def settings(self) -> Settings:
        """The settings the controls show now."""
        c = self.controls
        return self.what_if.defaults.replace(
            cap=None if c["no_cap"].value else c["cap"].value,
            national_wte=c["national_wte"].value,
            wte_after_cut=c["wte_after_cut"].value,
            cut_date=c["cut_date"].value,
            blend=tuple(round(c[f"blend_{s}"].value, 10) for s in SOURCES),
            shortfall_policy=c["shortfall_policy"].value,
            segmentation_rule=c["segmentation_rule"].value,
            low_share=c["low_share"].value,
            referral_mode=c["referral_mode"].value,
            referral_rate=c["referral_rate"].value,
        )

    def refresh(self) -> Outcome:
        """Run the what-if the controls show and redraw (also done on every change)."""
        clock = time.perf_counter()
        self._show_busy(f"Updating: {self.what_if.replications:,} replications")
        outcome = self.what_if.update(self.settings())
        self.outcome = outcome
        self.updates += 1
        if outcome.ok:
            self.status.value = html.escape(outcome.status())
            self.table.value = (
                f"<b>Whole forecast: means of {self.what_if.replications:,} replications; "
                "differences are paired, with 95% intervals</b>"
                + outcome.headline.to_html(float_format=lambda v: f"{v:,.1f}")
            )
            self._drawn.clear()
            self._draw_open_tab()
        else:
            self.status.value = (
                f'<span style="color:#b00020"><b>{html.escape(outcome.status())}</b> '
                "The charts still show the last valid what-if.</span>"
            )
            for frame in self.frames.values():
                frame.remove_class(STALE)
        self.seconds = time.perf_counter() - clock
        return outcome

    def close(self) -> None:
        """Remove the panel from the notebook and stop the what-if's worker processes."""
        self.widget.close()
        self.what_if.close()

    def _show_busy(self, text: str) -> None:
        """The status line's busy indicator, and every chart dimmed until redrawn."""
        self.status.value = _busy_html(text)
        for frame in self.frames.values():
            frame.add_class(STALE)

    def _draw_open_tab(self) -> None:
        if self.outcome is None or not self.outcome.ok or self.tabs.selected_index is None:
            return
        key = list(CHARTS)[self.tabs.selected_index]
        if key in self._drawn:
            return
        frame, image = self.frames[key], self.images[key]
        if image not in frame.children:  # never drawn: say so while drawing
            frame.children = (_busy_box("Drawing the chart"),)
        image.value = self.outcome.png(key, self.dpi)
        frame.children = (image,)
        frame.remove_class(STALE)
        self._drawn.add(key)

    def _changed(self, change: Mapping) -> None:
        if self._quiet:
            return
        c = self.controls
        blend = [c[f"blend_{s}"] for s in SOURCES]
        self._quiet = True
        try:
            if change["owner"] in blend:
                index = blend.index(change["owner"])
                shares = rebalance_blend([b.value for b in blend], index, change["new"])
                for control, share in zip(blend, shares, strict=True):
                    control.value = share
            c["cap"].disabled = c["no_cap"].value
            c["referral_rate"].disabled = c["referral_mode"].value != "poisson"
        finally:
            self._quiet = False
        self.refresh()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if self.outcome is None:
            self.refresh()
        display(self.widget)


CHART_WIDTH = "1100px"
"""Widest a chart is shown (narrower notebooks shrink it to their width)."""
STALE = "sim-whatif-stale"
"""CSS class of a chart that does not show the latest settings yet (dimmed)."""
BUSY_STYLE = (
    "<style>"
    ".sim-whatif-stale img { opacity: 0.35; transition: opacity 0.2s; }"
    "@keyframes sim-whatif-spin { to { transform: rotate(360deg); } }"
    ".sim-whatif-spinner { display: inline-block; width: 0.9em; height: 0.9em;"
    " margin-right: 0.4em; vertical-align: -0.1em; border: 2px solid #c8d7e6;"
    " border-top-color: #0072B2; border-radius: 50%;"
    " animation: sim-whatif-spin 0.8s linear infinite; }"
    "</style>"
)
"""The panel's styles: dimmed charts and the busy indicator's spinner."""


def _busy_html(text: str) -> str:
    """The busy indicator, a spinner before ``text``, as HTML."""
    return f'<span class="sim-whatif-spinner"></span><i>{html.escape(text)}\u2026</i>'


def _busy_box(text: str):
    """A placeholder with the busy indicator, shown in a tab until its chart is drawn."""
    import ipywidgets as w

    return w.HTML(
        _busy_html(text),
        layout=w.Layout(height="24em", width="100%", max_width=CHART_WIDTH,
                        display="flex", align_items="center", justify_content="center",
                        border="1px solid #e5e5e5"),
    )  # fmt: skip


_SOURCE_WORDS = {
    "national": "national team",
    "nhs_family": "wider NHS",
    "consultancy": "consultancy",
}
_POLICY_WORDS = {
    "wait": "wait: delay admissions",
    "dilute": "dilute: admit, spread support thinner",
    "buy": "buy: consultancy covers the gap",
    "backfill": "backfill: interim appointments, then consultancy",
}
"""The shortfall policy drop-down's words, by policy name (:data:`SHORTFALL_POLICIES`)."""
