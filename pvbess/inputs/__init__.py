"""Inputs: site data readers (meter, energy and weather files) and the models that generate the
Iquitos dataset (weather, PV plant, EV socket queue, mall load).

Everything here ends in a site table (``pv_kwh``, ``ev_kwh``, ``mall_kwh`` per step on a tz-aware
index) or raises :class:`pvbess.DataError` naming the file, row, column and unit.
"""
