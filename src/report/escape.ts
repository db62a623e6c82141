// Escaping text for XML and HTML: the HTML report, its SVG plots and the live dashboard (src/ui/).
// The JUnit report is written by junit-report-builder, which escapes for itself.
export const xmlEscape = (s: string) => s.replace(/[<>&"']/g, (ch) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' }[ch]!))
  // characters XML 1.0 cannot carry
  .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');
