"""Monitoring pages: a project's dashboard, its monitors, alert channels and log sample, and
the agency overview. Every view reaches tenant data through ``projects.access``; staff
change things, founders read the dashboard (a write answers 403), anyone else gets 404."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from checks import dashboard
from checks.engine.loghygiene import KINDS, MAX_LOG_BYTES, LogTooLarge, scan_from_dict
from checks.forms import AlertChannelForm, LogSampleForm, MonitorEndpointsForm, MonitorForm, apply_errors
from checks.models import LogSample
from checks.monitoring import services as monitoring
from checks.monitoring_facts import log_sample_store
from checks.templatetags.monitoring_tags import uptime_pct
from launchready import fragments
from projects import access


@login_required
def monitoring_dashboard(request, project_id: int):
    """The project's monitoring: uptime, p95, error rate, incidents, charts, monitors, alert
    channels and the log sample's findings."""
    project = access.project_for(request.user, project_id)
    board = dashboard.project_dashboard(project)
    channels = list(project.alert_channels.all())
    sample = LogSample.objects.filter(project=project).first()
    return render(request, "checks/monitoring.html", {
        "project": project,
        "board": board,
        "windows": dashboard.WINDOWS,
        "channels": [{"channel": c, "hint": monitoring.webhook_hint(c)} for c in channels],
        "sample": sample,
        "scan": scan_from_dict(sample.scan) if sample is not None else None,
        "kinds": KINDS,
        "can_write": access.can_write(request.user, project),
        "unmonitored": _unmonitored(project) if access.can_write(request.user, project) else [],
    })


def _unmonitored(project) -> list:
    """The project's endpoints that no monitor watches yet."""
    return list(project.endpoints.filter(monitors__isnull=True).order_by("id"))


def _back(project):
    return redirect("checks:monitoring", project_id=project.pk)


@login_required
def monitor_create(request, project_id: int):
    """Add monitors: the project's endpoints without one (ticked), or any URL."""
    project = access.project_for(request.user, project_id, write=True)
    endpoints = _unmonitored(project)
    form = MonitorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            monitor = monitoring.monitor_create(project, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Monitor {monitor.name} added: {_first_probe_note()}")
            return _back(project)
    return render(request, "checks/monitor_form.html", {
        "project": project, "form": form, "editing": False,
        "endpoints_form": MonitorEndpointsForm(endpoints=endpoints, initial={
            "endpoints": [str(e.pk) for e in endpoints if e.kind in monitoring.DEFAULT_KINDS]}),
    })


@login_required
@require_POST
def monitors_from_endpoints(request, project_id: int):
    """Monitor the ticked endpoints (GET, or GET expecting 405 for a POST-only route)."""
    project = access.project_for(request.user, project_id, write=True)
    form = MonitorEndpointsForm(request.POST, endpoints=_unmonitored(project))
    if not form.is_valid():
        messages.error(request, "Tick at least one endpoint to monitor.")
        return redirect("checks:monitor_create", project_id=project.pk)
    created, refused = [], []
    for endpoint in form.chosen():
        try:
            created.append(monitoring.monitor_for_endpoint(endpoint))
        except ValidationError as exc:
            refused.append(f"{endpoint.url}: {' '.join(exc.messages)}")
    if created:
        messages.success(request, f"{len(created)} monitor{'s' if len(created) != 1 else ''} added: "
                                  f"{', '.join(m.name for m in created)}.")
    for problem in refused:
        messages.error(request, problem)
    return _back(project)


@login_required
def monitor_edit(request, project_id: int, monitor_id: int):
    monitor = access.monitor_for(request.user, project_id, monitor_id, write=True)
    form = MonitorForm.for_monitor(monitor, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            monitoring.monitor_update(monitor, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Monitor {form.cleaned_data['name'] or monitor.name} saved.")
            return _back(monitor.project)
    return render(request, "checks/monitor_form.html", {
        "project": monitor.project, "form": form, "editing": True, "monitor": monitor,
    })


@login_required
@require_POST
def monitor_delete(request, project_id: int, monitor_id: int):
    monitor = access.monitor_for(request.user, project_id, monitor_id, write=True)
    monitoring.monitor_delete(monitor)
    messages.success(request, f"Monitor {monitor.name} deleted, with its probes and incidents.")
    return _back(monitor.project)


@sensitive_post_parameters("webhook_url")  # starred in error reports
@login_required
def channel_create(request, project_id: int):
    project = access.project_for(request.user, project_id, write=True)
    form = AlertChannelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            channel = monitoring.channel_create(
                project, kind=data["kind"], name=data["name"], email=data.get("email", ""),
                webhook_url=data.get("webhook_url", ""), enabled=data["enabled"],
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"{channel.get_kind_display()} channel added. Send it a test alert to "
                                      "check that it reaches someone.")
            return _back(project)
    return render(request, "checks/channel_form.html", {"project": project, "form": form, "editing": False})


@sensitive_post_parameters("webhook_url")
@login_required
def channel_edit(request, project_id: int, channel_id: int):
    channel = access.channel_for(request.user, project_id, channel_id, write=True)
    form = AlertChannelForm(request.POST or None, channel=channel)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            monitoring.channel_update(
                channel, name=data["name"], enabled=data["enabled"],
                email=data["email"] if "email" in form.fields else None,
                # Blank keeps the stored URL: it is never sent back to the browser to resubmit.
                webhook_url=data.get("webhook_url") or None,
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Alert channel saved.")
            return _back(channel.project)
    return render(request, "checks/channel_form.html", {
        "project": channel.project, "form": form, "editing": True, "channel": channel,
        "hint": monitoring.webhook_hint(channel),
    })


@login_required
@require_POST
def channel_delete(request, project_id: int, channel_id: int):
    channel = access.channel_for(request.user, project_id, channel_id, write=True)
    monitoring.channel_delete(channel)
    messages.success(request, f"{channel.get_kind_display()} channel deleted.")
    return _back(channel.project)


@login_required
@require_POST
def channel_test(request, project_id: int, channel_id: int):
    """"Send test alert": queue a test delivery; the channel shows when it arrived."""
    channel = access.channel_for(request.user, project_id, channel_id, write=True)
    if not channel.enabled:
        messages.error(request, "This channel is disabled: enable it first.")
        return _back(channel.project)
    monitoring.send_test_alert(channel)
    messages.info(request, f"Test alert on its way to the {channel.get_kind_display()} channel"
                           f"{' ' + channel.name if channel.name else ''}. Reload in a few seconds to see "
                           "whether it was delivered.")
    return _back(channel.project)


@login_required
def log_sample(request, project_id: int):
    """Paste or upload a log sample; only its redacted scan is kept."""
    project = access.project_for(request.user, project_id, write=True)
    try:
        form = LogSampleForm(request.POST or None, request.FILES or None)
    except RequestDataTooBig:  # over DATA_UPLOAD_MAX_MEMORY_SIZE: say so, not a bare 400
        too_big = f"The pasted text is over {MAX_LOG_BYTES:,} bytes. Paste a slice of it, or upload the file."
        return render(request, "checks/log_sample_form.html",
                      {"project": project, "form": LogSampleForm(), "too_big": too_big})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            sample = log_sample_store(project, data["text"], source=data["source"],
                                      phone_region=data["phone_region"], user=request.user)
        except LogTooLarge as exc:
            form.add_error(None, str(exc))
        else:
            found = sum((sample.scan.get("counts") or {}).values())
            messages.success(request, f"{sample.lines:,} lines scanned: "
                                      + (f"{found} finding{'s' if found != 1 else ''}, shown redacted below."
                                         if found else "no secrets or personal data found.")
                                      + " The sample itself was not kept.")
            response = redirect("checks:monitoring", project_id=project.pk)
            response["Location"] += "#log-hygiene"
            return response
    return render(request, "checks/log_sample_form.html", {"project": project, "form": form})


@login_required
def agency_overview(request):
    """Every project the user may see, with its monitors' state at a glance: the totals over
    all of them, then ``OVERVIEW_PER_PAGE`` rows a page, those down or with an open incident
    first (one query for the rows, however many projects; probes counted for the page's)."""
    projects = access.projects_for(request.user)
    if getattr(request, "agency", None) is not None:  # the agency chosen in the header
        projects = projects.filter(agency=request.agency)
    rows = dashboard.agency_overview(projects.order_by("agency__name", "name", "id"), uptime=False)
    rows.sort(key=_attention)  # stable: agency and name order within each group
    agencies = len({row.project.agency_id for row in rows})
    page = Paginator(rows, OVERVIEW_PER_PAGE).get_page(request.GET.get("page"))
    dashboard.overview_uptime(page.object_list)  # shown only: the totals do not need it
    return render(request, "checks/monitoring_overview.html", {
        "rows": page.object_list,
        "row_html": fragments.render_many("checks/_overview_row.html",
                                          (_overview_values(row, agencies) for row in page.object_list)),
        "page": page,
        "agencies": agencies,
        "totals": {
            "down": sum(r.state == "down" for r in rows),
            "incidents": sum(r.open_incidents for r in rows),
            "unmonitored": sum(r.state == "none" for r in rows),
        },
    })


OVERVIEW_PER_PAGE = 50


def _attention(row: dashboard.OverviewRow) -> int:
    """0 down, 1 an open incident, 2 waiting for a verdict, 3 the rest."""
    if row.state == "down":
        return 0
    if row.open_incidents:
        return 1
    return 2 if row.state == "unknown" else 3


def _overview_values(row: dashboard.OverviewRow, agencies: int) -> dict:
    """What one overview row shows (plain values: the row is cached by them)."""
    return {
        "pk": row.project.pk, "name": row.project.name,
        "agency_name": row.project.agency_name if agencies > 1 else None,
        "state": row.state, "up": row.up, "down": row.down, "unknown": row.unknown,
        "disabled": row.disabled, "open_incidents": row.open_incidents, "uptime": uptime_pct(row.uptime),
    }


def _first_probe_note() -> str:
    """When the first probe comes: with a beat and a worker (Redis), or on the embedded default
    with ``manage.py monitor_loop`` running beside the panel (``make serve`` starts it)."""
    if settings.REDIS_URL:
        return "its first probe runs within a minute."
    return ("its first probe runs within a minute while manage.py monitor_loop runs beside this panel "
            "(make serve starts it).")
