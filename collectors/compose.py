"""The agent with the collectors: one configuration, one block store, the collector service
running beside the agent.

The agent never imports the collectors; the program's entry point (``iec62379 agent``,
``iec62379 demo``) and embedders that want the collectors compose them here.
"""

from __future__ import annotations

from iec62379.agent.runner import Agent
from iec62379.agent.store import BlockStore
from iec62379.collectors.service import CollectorService
from iec62379.collectors.settings import Settings


def build_agent(
    settings: Settings,
    store: BlockStore | None = None,
    mib_dirs: tuple[str, ...] = (),
) -> tuple[Agent, CollectorService | None]:
    """The agent serving ``store`` (a new one by default) and the collector service feeding it
    (None when the settings have neither streams nor enabled sensors). The service's first
    rows (every stream's network block and receiver point, the sensors' first scan) are in the
    store before the agent loads its static blocks; the agent starts and stops the service."""
    store = store if store is not None else BlockStore()
    service = CollectorService.for_config(settings, store)
    agent = Agent(settings.agent, store, mib_dirs, services=[service] if service else [])
    if service is not None:
        service.attach(agent.mibmap, agent.notifications.submit,
                       lambda: agent.dvb.persistence_s)
        service.alarms.attach(agent.alarms)  # the collectors' alarms are the agent's
    return agent, service


__all__ = ["build_agent"]
