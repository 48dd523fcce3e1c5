"""Uptime monitoring (stage 5): monitors, probes, incidents, alerts.

- ``services`` — what the pages call: monitors from a project's endpoints, alert channels,
  "Send test alert".
- ``scheduler`` — the beat tick's atomic claim of due monitors, batches probed concurrently,
  results recorded once per due time.
- ``probe`` — one probe and many at once (plain Python on asyncio, through
  ``checks.engine.net.async_http`` and the outbound policy).
- ``incidents`` — the monitor state machine, incidents and flapping (the rule is there).
- ``alerts`` — deliveries, claims, retries with back-off; ``channels`` — email, Slack and
  Discord behind one ``send``; ``message`` — what an alert says.
- ``network`` — the profile a monitor or a webhook goes through.

Tasks (``checks.tasks``): ``monitor_tick`` (beat, every ``MONITOR_TICK_S``),
``monitor_probe`` (a batch), ``alert_send`` (one delivery).
"""
