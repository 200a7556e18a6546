"""The few panel shapes every prodlab dashboard is made of, built with grafana-foundation-sdk.

A dashboard module lists rows of panels and their PromQL; everything else (the provisioned
Prometheus datasource, the ``prodlab`` annotations, legend and tooltip, ids and grid
positions) is decided here once, so the five dashboards look and behave alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, TypeAlias

from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dash_b
from grafana_foundation_sdk.builders import prometheus as prom_b
from grafana_foundation_sdk.builders import stat as stat_b
from grafana_foundation_sdk.builders import table as table_b
from grafana_foundation_sdk.builders import timeseries as ts_b
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.variants import Dataquery
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dash
from grafana_foundation_sdk.models import prometheus as prom

from lab import defaults

DATASOURCE_UID = "prometheus"  # services/grafana/provisioning/datasources/prometheus.yml
ANNOTATION_TAG = "prodlab"  # lab/annotations.py tags every annotation with it
PROMETHEUS = dash.DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
GRAFANA = dash.DataSourceRef(type_val="grafana", uid="-- Grafana --")
REF_IDS = "ABCDEFGH"

Steps: TypeAlias = Sequence[tuple[str, float | None]]
"""Threshold steps, lowest first: (colour, from value); the first starts at ``None``."""
GREEN: Steps = (("green", None),)
UP: Steps = (("red", None), ("green", 1))
SLO: Steps = (("green", None), ("red", defaults.SLO_SECONDS))


def above(limit: float) -> Steps:
    """Green, turning red at ``limit``."""
    return (("green", None), ("red", limit))


class Q(NamedTuple):
    """One PromQL query of a panel and its legend."""

    expr: str
    legend: str


def _targets(queries: Sequence[Q], *, instant: bool = False) -> list[Builder[Dataquery]]:
    found: list[Builder[Dataquery]] = []
    for ref, q in zip(REF_IDS, queries, strict=False):
        target = (
            prom_b.Dataquery()
            .datasource(PROMETHEUS)
            .ref_id(ref)
            .expr(q.expr)
            .legend_format(q.legend)
            .editor_mode(prom.QueryEditorMode.CODE)
        )
        found.append(target.instant() if instant else target.range())
    if len(found) != len(queries):
        raise ValueError(f"a panel holds at most {len(REF_IDS)} queries")
    return found


def _thresholds(steps: Steps) -> dash_b.ThresholdsConfig:
    return (
        dash_b.ThresholdsConfig()
        .mode(dash.ThresholdsMode.ABSOLUTE)
        .steps([dash.Threshold(color=color, value=value) for color, value in steps])
    )


def timeseries(
    title: str,
    description: str,
    *queries: Q,
    unit: str = "short",
    stack: bool = False,
    slo: bool = False,
    max_value: float | None = None,
    width: int = 12,
) -> ts_b.Panel:
    """Lines from zero, one per series; ``slo`` draws the SLO as a red line and area."""
    panel = (
        ts_b.Panel()
        .title(title)
        .description(description)
        .datasource(PROMETHEUS)
        .height(8)
        .span(width)
        .unit(unit)
        .min(0)
        .color_scheme(dash_b.FieldColor().mode(dash.FieldColorModeId.PALETTE_CLASSIC))
        .thresholds(_thresholds(SLO if slo else GREEN))
        .draw_style(common.GraphDrawStyle.LINE)
        .line_width(1)
        .fill_opacity(10)
        .show_points(common.VisibilityMode.NEVER)
        .span_nulls(True)
        .legend(
            common_b.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        .tooltip(
            common_b.VizTooltipOptions()
            .mode(common.TooltipDisplayMode.MULTI)
            .sort(common.SortOrder.DESCENDING)
        )
        .targets(_targets(queries))
    )
    if max_value is not None:
        panel.max(max_value)
    if stack:
        panel.stacking(common_b.StackingConfig().group("A").mode(common.StackingMode.NORMAL))
    if slo:
        panel.thresholds_style(
            common_b.GraphThresholdsStyleConfig().mode(
                common.GraphThresholdsStyleMode.LINE_AND_AREA
            )
        )
    return panel


def stat(
    title: str, query: Q, *, unit: str = "short", steps: Steps = GREEN, description: str = ""
) -> stat_b.Panel:
    """One big number (the last value), its background coloured by ``steps``."""
    return (
        stat_b.Panel()
        .title(title)
        .description(description)
        .datasource(PROMETHEUS)
        .height(4)
        .span(4)
        .unit(unit)
        .color_scheme(dash_b.FieldColor().mode(dash.FieldColorModeId.THRESHOLDS))
        .thresholds(_thresholds(steps))
        .reduce_options(
            common_b.ReduceDataOptions().calcs(["lastNotNull"]).fields("").values(False)
        )
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.AREA)
        .text_mode(common.BigValueTextMode.AUTO)
        .justify_mode(common.BigValueJustifyMode.AUTO)
        .orientation(common.VizOrientation.AUTO)
        .targets(_targets([query]))
    )


def table(title: str, description: str, *queries: Q) -> table_b.Panel:
    """The current value of each series, one row per series, its labels as columns."""
    return (
        table_b.Panel()
        .title(title)
        .description(description)
        .datasource(PROMETHEUS)
        .height(8)
        .span(12)
        .unit("short")
        .cell_height(common.TableCellHeight.SM)
        .show_header(True)
        .with_transformation(dash.DataTransformerConfig(id_val="labelsToFields", options={}))
        .targets(_targets(queries, instant=True))
    )


def instance_variable(metric: str) -> dash_b.QueryVariable:
    """``$instance``: every instance that exports ``metric``, all selected by default."""
    query = f"label_values({metric}, instance)"
    return (
        dash_b.QueryVariable("instance")
        .label("instance")
        .datasource(PROMETHEUS)
        .query({"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"})
        .refresh(dash.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .include_all(True)
        .multi(True)
        .all_value(".*")
        .current(dash.VariableOption(selected=True, text=["All"], value=["$__all"]))
        .sort(dash.VariableSort.ALPHABETICAL_ASC)
        .hide(dash.VariableHide.DONT_HIDE)
        .options([])
    )


Panel: TypeAlias = ts_b.Panel | stat_b.Panel | table_b.Panel
Section: TypeAlias = tuple[str, Sequence[Panel]]
"""A row's title and its panels, laid out left to right, top to bottom."""


def board(
    uid: str,
    title: str,
    description: str,
    sections: Sequence[Section],
    *,
    variables: Sequence[dash_b.QueryVariable] = (),
) -> dash.Dashboard:
    """A prodlab dashboard: rows of panels, the lab's annotations, links to its siblings."""
    builder = (
        dash_b.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([ANNOTATION_TAG])
        .editable()
        .tooltip(dash.DashboardCursorSync.CROSSHAIR)
        .version(1)
        .refresh("5s")
        .timezone("browser")
        .time("now-15m", "now")
        .timepicker(dash_b.TimePicker().refresh_intervals(["1s", "5s", "10s", "30s", "1m"]))
        .fiscal_year_start_month(0)
        .live_now(False)
        .week_start("")
        .annotation(
            dash_b.AnnotationQuery()
            .name("lab events")
            .datasource(GRAFANA)
            .enable(True)
            .hide(False)
            .icon_color("orange")
            .target(
                dash_b.AnnotationTarget()
                .type("tags")
                .tags([ANNOTATION_TAG])
                .match_any(True)
                .limit(200)
            )
        )
        .link(
            dash_b.DashboardLink(ANNOTATION_TAG)
            .type(dash.DashboardLinkType.DASHBOARDS)
            .tags([ANNOTATION_TAG])
            .as_dropdown(True)
            .include_vars(False)
            .keep_time(True)
        )
        .variables(list(variables))
    )
    for row_title, panels in sections:
        builder.with_row(dash_b.Row(row_title))
        for panel in panels:
            builder.with_panel(panel)
    built = builder.build()
    for number, item in enumerate(built.panels or [], start=1):
        item.id_val = number
    return built
