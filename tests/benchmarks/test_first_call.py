"""The first-call benchmark runs end to end in fresh processes and counts what they compile."""

import math

from benchmarks import first_call as bench


def test_quick_run_counts_the_programs_of_both_first_calls():
    summary = bench.main(["--quick"])
    sweep, peer = summary["variants"]["sweep"], summary["variants"]["optax"]
    assert peer["programs"] == [2]  # the hand-written init and epoch
    assert 1 <= max(sweep["programs"]) <= 7
    assert sweep["second_programs"] == peer["second_programs"] == [0]  # warm: nothing compiles again
    for s in (sweep, peer):
        # The table holds every program the first process compiled, and their seconds add up to its total.
        assert sum(n for _, n, _ in s["program_table"]) == s["programs"][0]
        assert abs(sum(sec for _, _, sec in s["program_table"]) - s["compile_s"]) < 1e-6
        assert s["wall_s"] > s["compile_s"] > 0
        assert len(s["val_loss"]) == summary["configs"] and all(math.isfinite(v) and v > 0 for v in s["val_loss"])
