"""Agent sessions as event-sourced pykka actors on the :mod:`journal`."""
