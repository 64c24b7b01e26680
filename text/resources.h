// resources.h — the project's own labeler lists (text/data/*), compiled into the library by
// tools/embed_resources.cmake so that `cxr` runs without any data files next to it.
#pragma once

#include <string_view>
#include <vector>

namespace cxr::text {

// The contents of text/data/<name> (e.g. "negex_triggers.txt", "edema/keywords_affirmed.tsv").
// Throws cxr::Error for an unknown name.
std::string_view text_resource(std::string_view name);
// All embedded names, sorted.
std::vector<std::string_view> text_resource_names();

}  // namespace cxr::text
