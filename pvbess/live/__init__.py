"""Live operation: the scheduler drives a real battery through Home Assistant.

Modules: :mod:`~pvbess.live.config` (the site's YAML: Home Assistant, entities, units),
:mod:`~pvbess.live.client` (Home Assistant's REST API with retries),
:mod:`~pvbess.live.ha` (:class:`~pvbess.live.ha.HomeAssistantController`, the scheduler's
``Controller`` over Home Assistant), :mod:`~pvbess.live.history` (missed periods from the
recorder's history), :mod:`~pvbess.live.inverter` (the setting, the import cap, time-of-use
slots), :mod:`~pvbess.live.runner` (the three scenarios on the clock) and :mod:`~pvbess.live.cli` (``python -m pvbess.live --config site.yaml``).
The public names are exported flat from :mod:`pvbess`.
"""
