// Prints vitest's JSON report as the one line any CI can read.
import { readFileSync } from 'node:fs';

const file = process.argv[2];
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (err) {
  console.log(`no test report at ${file}: ${err.message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const passed = report.numPassedTests ?? 0;
// A suite that fails to load has no failed tests, yet it failed.
const failed = (report.numFailedTests ?? 0) || (report.success === false ? Math.max(1, report.numFailedTestSuites ?? 0) : 0);
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
if (passed === 0 || failed > 0 || report.success === false) process.exit(1);
