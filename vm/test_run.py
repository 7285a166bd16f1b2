#!/usr/bin/env python3
"""Host tests of vm/run.py's hang detector, with small shell commands in
place of QEMU: a quiet command is cut after the silence limit, one that
keeps printing (on stdout or into a watched file) is not, and the total
limit still bounds it. scripts/test.sh runs them as a gate."""

import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402


class Boot(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.log = os.path.join(self.dir.name, "console.log")

    def tearDown(self):
        self.dir.cleanup()

    def boot(self, script, timeout=60, silence=None, watch=()):
        t0 = time.monotonic()
        lines, stopped = run.boot(["sh", "-c", script], self.log, timeout, silence=silence, watch=watch)
        return lines, stopped, time.monotonic() - t0

    def test_quiet_guest_is_cut_after_the_silence_limit(self):
        lines, stopped, took = self.boot("echo a; sleep 30; echo b", silence=1)
        self.assertEqual(lines, ["a"])
        self.assertEqual(stopped, "no output for 1 s")
        self.assertLess(took, 20)

    def test_printing_guest_runs_past_the_silence_limit(self):
        lines, stopped, _ = self.boot("for i in 1 2 3 4; do echo $i; sleep 0.6; done", silence=1)
        self.assertEqual(lines, ["1", "2", "3", "4"])
        self.assertIsNone(stopped)

    def test_a_growing_report_counts_as_progress(self):
        report = os.path.join(self.dir.name, "report")
        _, stopped, _ = self.boot(
            f"for i in 1 2 3 4; do echo $i >> {report}; sleep 0.6; done", silence=1, watch=(report,)
        )
        self.assertIsNone(stopped)

    def test_total_limit_bounds_a_guest_that_keeps_printing(self):
        lines, stopped, took = self.boot("while :; do echo x; sleep 0.2; done", timeout=2, silence=1)
        self.assertEqual(stopped, "still running after its 2 s limit")
        self.assertGreater(len(lines), 3)
        self.assertLess(took, 20)

    def test_the_check_names_the_test_that_hung(self):
        report = ["HV_EVLOG_TAP_BEGIN", "1..2", "# a.sh", "    ok 1 x", "# a.sh took 1.0 s", "ok 1 a.sh", "# b.sh"]
        checks = run.run_checks([], report, "no output for 240 s")
        self.assertEqual(checks[0], ("finished without a hang", False, "no output for 240 s while b.sh ran"))

    def test_a_run_that_ended_early_fails_too(self):
        checks = run.run_checks([], ["# a.sh", "# a.sh took 1.0 s"], None)
        self.assertEqual(checks[0], ("finished without a hang", False, "the guest ended before its report did"))
        checks = run.run_checks([], ["HV_EVLOG_DONE"], None)
        self.assertEqual(checks[0], ("finished without a hang", True, ""))


if __name__ == "__main__":
    unittest.main()
