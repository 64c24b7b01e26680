// commands.h — the `cxr` subcommands. Each apps/<name>.cpp defines one add_<name>_command, which
// adds its options to the app and the callback that runs it; main.cpp calls them all.
// Exit codes: 0 ok, 2 fatal error (the message goes to stderr).
#pragma once

#include <CLI/CLI.hpp>

namespace cxr::apps {

void add_vocab_command(CLI::App& app);          // cxr vocab: train a WordPiece vocabulary
void add_pretrain_text_command(CLI::App& app);  // cxr pretrain-text: MLM pretraining of a BERT encoder
void add_embed_text_command(CLI::App& app);     // cxr embed-text: pooled (and sentence) embeddings

}  // namespace cxr::apps
