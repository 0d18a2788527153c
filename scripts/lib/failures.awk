# Prints each failed test of a .trx file with the first lines of its message, so that a log that
# keeps only its tail (CI's) still says which test failed and why.
/<UnitTestResult / && /outcome="Failed"/ {
  name = $0; sub(/.*testName="/, "", name); sub(/".*/, "", name)
  print "FAILED " unescape(name); failed = 1; inmsg = 0; lines = 0
}
failed && /<Message>/ { inmsg = 1; sub(/.*<Message>/, "") }
failed && inmsg {
  done = sub(/<\/Message>.*/, "")
  if (lines < 12) print "    " unescape($0)
  lines++
  if (done) { inmsg = 0; if (lines > 12) print "    (" lines - 12 " more lines)" }
}
/<\/UnitTestResult>/ { failed = 0; inmsg = 0 }
function unescape(s) {
  gsub(/&lt;/, "<", s); gsub(/&gt;/, ">", s); gsub(/&quot;/, "\"", s); gsub(/&apos;/, "'", s)
  gsub(/&#xD;/, "", s); gsub(/&#xA;/, " ", s); gsub(/&amp;/, "\\&", s)
  return s
}
