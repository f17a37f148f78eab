#pragma once

// A large manifest's state list cut into pages, so that a remote backend
// sends again only the pages a checkpoint changed (docs/store-format.md,
// "Remote records"). The pages, concatenated in order, are the encoding of a
// Manifest holding only the state, entries in the manifest's order: a reader
// merges them and needs nothing else from this file.
//
// Where a page ends: after an entry whose identity (key and partition scope,
// not its content) hashes to a boundary, about one entry in a power of two
// chosen from the list's length (at least 64, and so that a list makes at
// most about 1,024 pages); or before the page would grow past
// `max_page_bytes`, and an entry larger than that is a page of its own.
// Boundaries follow identities, not positions or contents: a changed entry
// changes only its own page, and an added or removed key only the page around
// it. The boundaries are not part of any format; changing the rule costs one
// upload of every page.

#include <cstddef>
#include <string>
#include <vector>

#include "protocol/store/checkpoint.pb.h"

namespace tidemark::store {

std::vector<std::string> statePages(const v1::Manifest& manifest, size_t max_page_bytes);

}  // namespace tidemark::store
