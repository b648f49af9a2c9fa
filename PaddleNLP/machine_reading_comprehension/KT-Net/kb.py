"""The knowledge base in the KT-NET release's file formats:

    KB_DIR/concept2vec.txt      one concept per line: its name, then its embedding, space-separated
                                (the release's wn_concept2vec.txt / nell_concept2vec.txt: WordNet or
                                NELL concepts embedded by a KB-embedding model, 100 numbers each)
    KB_DIR/retrieved_concepts.data   the concepts retrieved for each token: a pickled dict
                                {lower-cased token: [concept name, ...]} (the release's
                                retrived_synsets.data, written by retrieve_wordnet/retrieve.py)

Concept id 0 is padding (no concept; a zero vector), as in the release. The pickle holds only a dict
of str -> list of str; it is read by an unpickler whose find_class refuses every global (so no class
or function can be named, and no code runs from the file), then checked to be that dict.
"""
import io
import os
import pickle

import numpy as np

import utils

EMBEDDING_FILE = "concept2vec.txt"
RETRIEVED_FILE = "retrieved_concepts.data"


class _DataOnly(pickle.Unpickler):
    def find_class(self, module, name):  # plain dicts, lists and strings need no class
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def read_embeddings(path):
    """(concept names with '<pad_concept>' first, float32 matrix [1 + concepts, dim] with row 0 zero)."""
    names, rows, dim = ["<pad_concept>"], [], None
    for lineno, line in utils.read_lines(path):
        fields = line.split()
        if not fields:
            continue
        try:
            vector = [float(v) for v in fields[1:]]
        except ValueError:
            raise utils.DataError(f"{path}:{lineno}: concept {fields[0]!r}: the vector holds a non-number") from None
        dim = dim or len(vector)
        if len(vector) != dim or not dim:
            raise utils.DataError(f"{path}:{lineno}: concept {fields[0]!r} has a vector of {len(vector)} numbers, "
                                  f"the file's first line has {dim}")
        if not np.all(np.isfinite(vector)):
            raise utils.DataError(f"{path}:{lineno}: concept {fields[0]!r}: the vector holds nan or inf")
        names.append(fields[0])
        rows.append(vector)
    if not rows:
        raise utils.DataError(f"{path}:1: no concepts in the embedding file")
    return names, np.concatenate([np.zeros((1, dim), np.float32), np.array(rows, np.float32)])


def read_retrieved(path):
    if not os.path.isfile(path):
        raise utils.DataError(f"{path}: file not found")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        table = _DataOnly(io.BytesIO(raw)).load()
    except Exception as e:  # noqa: BLE001 - any unpickling failure is a bad file
        raise utils.DataError(f"{path}:1: not a pickled {{token: [concept, ...]}} dict ({str(e)[:80]})") from None
    if not isinstance(table, dict) or not all(isinstance(k, str) and isinstance(v, list)
                                              and all(isinstance(c, str) for c in v) for k, v in table.items()):
        raise utils.DataError(f"{path}:1: not a pickled {{token: [concept, ...]}} dict")
    return table


class KnowledgeBase:
    """Concept embeddings and each token's retrieved concept ids (at most max_concepts, in the file's order)."""

    def __init__(self, kb_dir, max_concepts=8):
        self.names, self.embeddings = read_embeddings(os.path.join(kb_dir, EMBEDDING_FILE))
        ids = {n: i for i, n in enumerate(self.names)}
        path = os.path.join(kb_dir, RETRIEVED_FILE)
        self.token_concepts, unknown = {}, 0
        for token, concepts in read_retrieved(path).items():
            found = [ids[c] for c in concepts if c in ids]
            unknown += len(concepts) - len(found)
            if found:
                self.token_concepts[token.lower()] = found[:max_concepts]
        if unknown and utils.is_main_process():
            print(f"{path}: {unknown} retrieved concept(s) have no embedding in {EMBEDDING_FILE}; left out", flush=True)
        self.max_concepts = max_concepts
        self.dim = self.embeddings.shape[1]

    def __len__(self):
        return len(self.names)

    def concepts(self, token):
        return self.token_concepts.get(token.lower(), [])
