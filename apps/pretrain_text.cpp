#include "apps/commands.h"
namespace cxr::apps {
void add_pretrain_text_command(CLI::App&) {}
}
