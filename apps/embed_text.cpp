#include "apps/commands.h"
namespace cxr::apps {
void add_embed_text_command(CLI::App&) {}
}
