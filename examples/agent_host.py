"""An agent host embedding mob_actors: a lead and two helpers working in rounds.

Run it twice: the second run resumes the same mob from the journal in ./data (or the directory
given as the first argument) and carries on from the round where the first one stopped.

    python examples/agent_host.py [JOURNAL_DIR] [--rounds N]
"""

from __future__ import annotations

import argparse
import textwrap

from mob_actors import MobDefinition, MobRuntime, MobStatus, Profile, TurnContext, TurnOutcome

MOB_ID = "demo-team"


class TeamAgent:
    """A stand-in for a language model: answers in the voice of the session's profile."""

    def run_turn(self, ctx: TurnContext) -> TurnOutcome:
        system = next((m["content"] for m in ctx.session.messages if m["role"] == "system"), "")
        turns = sum(1 for m in ctx.session.messages if m["role"] == "user") + 1
        # Whole words only: a reply cut mid-word reads like a bug in the library.
        prompt = textwrap.shorten(ctx.request.prompt, width=60, placeholder=" ...")
        if "lead" in system:
            text = f"Plan #{turns}: split '{prompt}' between the helpers."
        else:
            text = f"Done with part {turns} of: {prompt}"
        ctx.emit("text_delta", delta=text)
        return TurnOutcome([{"role": "assistant", "content": text}], text, {"output_tokens": len(text.split())})


DEFINITION = MobDefinition(
    MOB_ID,
    {
        "lead": Profile("lead", system_prompt="You are the lead: plan and summarise."),
        "helper": Profile("helper", system_prompt="You are a helper: do the part you are given."),
    },
    wiring=(("lead", "helper-1"), ("lead", "helper-2")),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("journal_dir", nargs="?", default="data")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    with MobRuntime.open(args.journal_dir, TeamAgent()) as runtime:
        if MOB_ID in {m.mob_id for m in runtime.list_mobs()}:
            mob = runtime.mob(MOB_ID)
            if mob.status() is MobStatus.STOPPED:
                mob.resume()
            print(f"resumed mob {MOB_ID!r} from {args.journal_dir}/ ({len(mob.events())} mob events)")
        else:
            mob = runtime.create_mob(DEFINITION)
            mob.spawn("lead", "lead")
            mob.spawn("helper-1", "helper")
            mob.spawn("helper-2", "helper")
            print(f"created mob {MOB_ID!r} in {args.journal_dir}/")

        for member in mob.members():
            print(f"  {member.member_id:9} {member.state.value:7} session {member.session_id} wired to {', '.join(member.wired_to)}")

        lead = mob.member("lead")
        done = sum(1 for m in runtime.service.read(lead.session_id).messages if m["role"] == "user")
        for n in range(done + 1, done + args.rounds + 1):
            print(f"\n-- round {n} --")
            plan = mob.turn("lead", f"task {n}: write the release notes")
            print(f"lead     > {plan.text}")
            for helper in ("helper-1", "helper-2"):
                reply = mob.turn(helper, f"{plan.text} (you are {helper})")
                print(f"{helper} > {reply.text}")
        print(f"\n{sum(len(runtime.service.read(m.session_id).messages) for m in mob.members())} messages across the mob, all durable.")
        mob.stop()  # a clean stop; the next run resumes it
        lead_id = mob.member("lead").session_id
    print(
        "\nTry next (the tool reads the journal, also while a host writes it):\n"
        f"  .venv/bin/mob-replay ls {args.journal_dir}\n"
        f"  .venv/bin/mob-replay mob {args.journal_dir} {MOB_ID}\n"
        f"  .venv/bin/mob-replay show {args.journal_dir} {lead_id}\n"
        f"  .venv/bin/mob-replay html {args.journal_dir} {lead_id} -o lead.html\n"
        "  make demo    # again: the mob resumes where it stopped"
    )


if __name__ == "__main__":
    main()
