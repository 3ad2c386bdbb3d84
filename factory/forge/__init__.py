"""The GitHub side of the factory: state store, trust, claims, patches, pulls, risk and outputs."""

from factory.forge.output_requests import RunContext
from factory.forge.outputs import OutputDecision, OutputGate

__all__ = ["OutputDecision", "OutputGate", "RunContext"]
