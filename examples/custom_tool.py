"""Your own tools in Ponder's plan-and-execute loop: plain ``@tool`` functions.

    python examples/custom_tool.py

Any LangChain ``BaseTool`` or ``@tool`` function works. The planner reads each
tool's name, description (the docstring) and argument schema (the type hints
and ``Annotated`` descriptions); a step can feed an earlier step's result into
its input with a ``{{s1}}`` placeholder. Whatever a tool returns or raises
becomes an observation the reflection can judge, never a crashed run.

The model here is `agent.testing.ScriptedChatModel`, scripted to plan with
these tools (so the example is instant and exact); it also records what the
planner was shown, which the example prints. Pass any chat model instead.
"""

from __future__ import annotations

from typing import Annotated, Any

from langchain_core.tools import tool

from agent import parse_event
from agent.testing import ScriptedChatModel
from graphs import build_plan_execute_graph

ORDERS = {"A-1001": "cus_42", "A-1002": "cus_7"}
CUSTOMERS = {"cus_42": "Ada Lovelace <ada@example.com>", "cus_7": "Alan Turing <alan@example.com>"}


@tool
def order_customer(order_id: Annotated[str, "an order number such as A-1001"]) -> str:
    """Look up which customer placed an order; returns the customer id."""
    if order_id not in ORDERS:
        raise KeyError(f"no order {order_id}")  # becomes an error observation
    return ORDERS[order_id]


@tool
def customer_contact(customer_id: Annotated[str, "a customer id such as cus_42"]) -> str:
    """The name and email address of a customer."""
    return CUSTOMERS.get(customer_id, "unknown customer")


def scripted_model() -> ScriptedChatModel:
    return ScriptedChatModel(
        script={
            "Planning": [
                {
                    "mode": "compute",
                    "depth": "low",
                    "triage_reason": "two lookups",
                    "reasoning": "Find the order's customer, then that customer's contact.",
                    "steps": [
                        {"id": "s1", "goal": "who placed A-1001", "tool": "order_customer",
                         "input": {"order_id": "A-1001"}, "depends_on": []},
                        {"id": "s2", "goal": "their contact details", "tool": "customer_contact",
                         "input": {"customer_id": "{{s1}}"}, "depends_on": ["s1"]},
                    ],
                }
            ],
            "Synthesis": [
                {
                    "claims": [
                        {"text": "Order A-1001 was placed by customer cus_42.", "cites": ["s1.1"]},
                        {"text": "That customer is Ada Lovelace, ada@example.com.",
                         "cites": ["s2.1"]},
                    ],
                    "gaps": [],
                }
            ],
        }
    )  # fmt: skip


def main() -> None:
    model = scripted_model()
    graph = build_plan_execute_graph(model, [order_customer, customer_contact])
    task = "Who placed order A-1001, and how do I reach them?"
    out: dict[str, Any] = {}
    finished = []
    for mode, chunk in graph.stream({"task": task}, stream_mode=["custom", "values"]):
        if mode == "values":
            out = chunk
        elif chunk["type"] == "step_finished":
            finished.append(parse_event(chunk))

    plan_call = model.calls_for("Planning")[0]
    print("The planner was offered these tools:")
    step = plan_call.schema["properties"]["steps"]["items"]
    for variant in step.get("anyOf", [step]):
        props = variant["properties"]
        args = ", ".join(
            f"{name}: {spec.get('description', spec.get('type'))}"
            for name, spec in props["input"]["properties"].items()
        )
        print(f"  {props['tool']['const']}({args})")
    print("  described as:")
    for line in plan_call.prompt.splitlines():
        if line.lstrip("- ").startswith(("order_customer", "customer_contact")):
            print(f"    {line.strip()}")

    print("\nSteps:")
    for e in finished:
        print(f"  {e.step_id} {e.tool}: {e.status}: {e.summary}")
    print(f"\nstatus: {out['status']}")
    print(out["answer"].markdown)


if __name__ == "__main__":
    main()
