"""Template tags for charts drawn from stored results (the project page's risk history)."""

from __future__ import annotations

from django import template

from handover.services import risk_history_chart
from launchready.charts import NARROW, Chart

register = template.Library()


@register.simple_tag
def risk_history(project) -> Chart:
    """``{% risk_history project as chart %}``: open risks per finished full audit of ``project``
    (wide and phone layouts). ``project`` is one the view already fetched through
    ``projects.access``, so this reads only that project's runs."""
    return risk_history_chart(project, narrow=NARROW)
