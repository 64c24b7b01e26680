// fragment.h — makes an HTML fragment (a highlighted report written by `cxr explain`, or any other
// file we did not write ourselves) safe to paste into the report page. The fragment is untrusted:
// a report's text or a file in a run directory could hold markup, so it is re-written through a
// whitelist rather than copied.
//   Kept:    the tags span mark b strong i em u s small sub sup br p div ul ol li code pre
//            blockquote h3 h4 h5 h6 hr, with the attributes class, title, data-*, and style when
//            its value holds nothing that can fetch or execute (no url(, expression, @import,
//            javascript:, backslash escapes or comments).
//   Dropped with their content: script style iframe object embed template noscript textarea
//            title svg math select; comments, <!...> and <?...?> declarations.
//   Dropped, content kept: every other tag (e.g. <a>, <img> have no content; <font>'s text stays).
// A whole page (`cxr explain` writes <id>_attention.html as a standalone document) reduces to its
// body's kept markup: <html>, <head>, <body>, <meta> go, <title> goes with its text.
// Text and attribute values are decoded (the common named and all numeric character references)
// and re-escaped, so the output is well-formed UTF-8. Open tags are balanced: a stray closing tag
// is dropped and tags left open are closed at the end, so the fragment cannot close the page's
// own elements around it.
#pragma once

#include <string>
#include <string_view>

namespace cxr::report {

std::string sanitize_fragment(std::string_view html);

}  // namespace cxr::report
