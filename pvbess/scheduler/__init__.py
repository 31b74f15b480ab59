"""The event-sourced scheduler: history and schedule stores, the manager, forecasts, replay.

Modules: :mod:`~pvbess.scheduler.db` (the SQLite file), :mod:`~pvbess.scheduler.events`
(what happened), :mod:`~pvbess.scheduler.record` (its verification before a resume),
:mod:`~pvbess.scheduler.schedules` (what was planned),
:mod:`~pvbess.scheduler.daily_view` (the day as seen now), :mod:`~pvbess.scheduler.forecasts`,
:mod:`~pvbess.scheduler.controller` (the plant and the program it runs),
:mod:`~pvbess.scheduler.engine` (a plan from forecasts and the state),
:mod:`~pvbess.scheduler.manager` (the three scenarios) and :mod:`~pvbess.scheduler.replay` (a dataset, period by period; its progress bars in
:mod:`~pvbess.scheduler.progress`).
The public names are exported flat from :mod:`pvbess`.
"""
