// Parsing what a kernel selftest printed into counts: kselftest.h's TAP 13 / KTAP (`ok N name`,
// `not ok N`, `# SKIP reason`, `# XFAIL`, `Bail out!`, `1..N`, `# Totals: pass:..`) and 6.12
// uffd-unit-tests' own line format. Used by the live and guest runners (live.ts, guest.ts) and for
// ptefarm's own gate KTAP (compare.ts), so both sides of the comparison are read by one parser.
// Only top-level lines count: a nested KTAP subtest is indented, kselftest_harness diagnostics start
// with '#'. The parser checks what the output says against itself (plan, the Totals line) and names
// any mismatch instead of trusting either.
import type { OutputFormat } from './catalogue.ts';

export type PointResult = 'pass' | 'fail' | 'skip' | 'xfail';

export interface TestPoint {
  result: PointResult;
  name: string;
  /** the SKIP/XFAIL/failure reason */
  reason?: string;
}

export interface Counts { pass: number; fail: number; skip: number; xfail: number }

export interface Parsed {
  points: TestPoint[];
  counts: Counts;
  /** `1..N` (KTAP) or the summary's total (uffd-unit) */
  planned?: number;
  /** `1..0 # SKIP reason`: the whole selftest skipped */
  skipAll?: string;
  /** `Bail out! msg` or the harness's fatal `ERROR: ...` line: the run stopped early */
  bailOut?: string;
  /** contradictions in the output (plan vs run, the Totals line vs the points) */
  problems: string[];
}

const KTAP_POINT = /^(not ok|ok)\s+(\d+)\b\s*(?:-\s*)?([^#]*?)\s*(?:#\s*(.*))?$/;
const TOTALS = /^#\s*Totals:\s*pass:(\d+)\s+fail:(\d+)\s+xfail:(\d+)\s+xpass:(\d+)\s+skip:(\d+)\s+error:(\d+)/;

export function countPoints(points: readonly TestPoint[]): Counts {
  const c: Counts = { pass: 0, fail: 0, skip: 0, xfail: 0 };
  for (const p of points) c[p.result]++;
  return c;
}

export function parseKtap(text: string): Parsed {
  const points: TestPoint[] = [];
  const problems: string[] = [];
  let planned: number | undefined, skipAll: string | undefined, bailOut: string | undefined;
  let totals: number[] | undefined;
  let sawHeader = false;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (/^(KTAP|TAP) version \d+/.test(line)) { sawHeader = true; continue; }
    const plan = /^1\.\.(\d+)\s*(?:#\s*(?:SKIP|skip)\b\s*(.*))?$/.exec(line);
    if (plan) {
      planned = Number(plan[1]);
      if (planned === 0 && plan[2] !== undefined) skipAll = plan[2].trim() || 'skipped';
      continue;
    }
    const bail = /^Bail out!\s*(.*)$/.exec(line);
    if (bail) { bailOut = bail[1].trim() || 'bail out'; continue; }
    const t = TOTALS.exec(line);
    if (t) { totals = t.slice(1).map(Number); continue; }
    const m = KTAP_POINT.exec(line);
    if (!m) continue;
    const ok = m[1] === 'ok';
    const directive = m[4]?.trim() ?? '';
    const dm = /^(SKIP|TODO|XFAIL)\b\s*(.*)$/i.exec(directive);
    const kind = dm?.[1].toUpperCase();
    let result: PointResult;
    if (kind === 'SKIP') result = 'skip';
    else if (kind === 'XFAIL' && ok) result = 'xfail';
    else result = ok ? 'pass' : 'fail';
    const reason = dm ? dm[2].trim() || undefined : (!ok && directive ? directive : undefined);
    points.push({ result, name: m[3].trim(), ...(reason ? { reason } : {}) });
  }
  const counts = countPoints(points);
  if (!sawHeader && points.length === 0 && planned === undefined) problems.push('no KTAP/TAP output (no version line, plan or test point)');
  if (planned !== undefined && bailOut === undefined && skipAll === undefined && points.length !== planned) {
    problems.push(`planned ${planned} tests, ${points.length} ran`);
  }
  if (totals) {
    const [pass, fail, xfail, xpass, skip, error] = totals;
    // kselftest counts an XPASS and an error among its own; neither maps to a point of ours
    if (pass !== counts.pass || fail !== counts.fail || skip !== counts.skip || xfail !== counts.xfail || xpass || error) {
      problems.push(`the Totals line (pass:${pass} fail:${fail} xfail:${xfail} xpass:${xpass} skip:${skip} error:${error}) disagrees with the test points (pass:${counts.pass} fail:${counts.fail} xfail:${counts.xfail} skip:${counts.skip})`);
    }
  }
  return { points, counts, planned, skipAll, bailOut, problems };
}

// uffd-unit-tests.c (6.12): uffd_test_start() prints "Testing NAME on MEM... " and flushes; the
// outcome follows on the same line: uffd_test_pass() "done", uffd_test_skip() "skipped [reason: R]",
// uffd_test_fail() "failed [reason: R]"; uffd_test_report() ends the run with
// "Userfaults unit tests: pass=P, skip=S, fail=F (total=T)". err() in uffd-common.h prints
// "ERROR: msg (errno=E, @file:line)" and exits.
const UFFD_TEST = /Testing (.+?)\.\.\. (done|skipped \[reason: (.*)\]|failed \[reason: (.*)\])\s*$/;
const UFFD_SUMMARY = /^Userfaults unit tests: pass=(\d+), skip=(\d+), fail=(\d+) \(total=(\d+)\)/;

export function parseUffdUnit(text: string): Parsed {
  const points: TestPoint[] = [];
  const problems: string[] = [];
  let summary: number[] | undefined, bailOut: string | undefined, skipAll: string | undefined;
  let open: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const m = UFFD_TEST.exec(line);
    if (m) {
      open = undefined;
      if (m[2] === 'done') points.push({ result: 'pass', name: m[1] });
      else if (m[2].startsWith('skipped')) points.push({ result: 'skip', name: m[1], reason: m[3] });
      else points.push({ result: 'fail', name: m[1], reason: m[4] });
      continue;
    }
    const started = /Testing (.+?)\.\.\. ?(.*)$/.exec(line);
    if (started) open = started[1];
    const s = UFFD_SUMMARY.exec(line);
    if (s) { summary = s.slice(1).map(Number); continue; }
    const e = /ERROR: (.*)$/.exec(line);
    if (e && bailOut === undefined) bailOut = open ? `${open}: ${e[1]}` : e[1];
    if (/Userfaultfd not supported or unprivileged, skip all tests/.test(line)) skipAll = 'userfaultfd not supported or unprivileged';
  }
  const counts = countPoints(points);
  if (bailOut === undefined && open !== undefined) bailOut = `${open}: no outcome printed`;
  if (summary) {
    const [pass, skip, fail, total] = summary;
    if (pass !== counts.pass || skip !== counts.skip || fail !== counts.fail || total !== points.length) {
      problems.push(`the summary (pass=${pass}, skip=${skip}, fail=${fail}, total=${total}) disagrees with the test lines (pass=${counts.pass}, skip=${counts.skip}, fail=${counts.fail}, total=${points.length})`);
    }
  } else if (bailOut === undefined && skipAll === undefined) {
    problems.push('no summary line (the run did not finish)');
  }
  return { points, counts, planned: summary?.[3], skipAll, bailOut, problems };
}

export function parseOutput(format: OutputFormat, text: string): Parsed {
  return format === 'ktap' ? parseKtap(text) : parseUffdUnit(text);
}
