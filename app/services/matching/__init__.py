"""Is this incoming person a client CCD already knows? A Fellegi–Sunter linkage model answers.

Imports, the scan for duplicates already in the database and the front desk ask the same
question, so they share this package (its public names are the matching contract,
/work/notes/MATCHING_CONTRACT.md):

* ``blocking``: candidates come from the database by blocking keys kept in indexed columns
  (same birth date, phonetic name + birth year, ...), never by reading the whole client table;
* ``comparisons``: each field of a pair gets a comparison level (first name exact, nickname,
  gendered variant, Jaro-Winkler bands, initial; last name exact, part of a double name,
  bands; birth date exact, 1 January, transposed, one digit, year off, placeholder; gender;
  the ids both hold in the source being imported; city; street address), vectorised over many pairs;
* ``model``: each level weighs log2(m/u) bits, exact names weighed by how common they are;
  the match weight is the prior log-odds plus the fields' weights, the score its probability;
  ``evidence`` says it in words;
* ``training``: u from random pairs of the agency's clients, m by EM over blocked pairs and
  the reviewers' decisions, name frequencies; stored, and the latest active model is used;
* ``decide``: a match is automatic only when exactly one candidate is clearly above the
  accept probability; close calls go to a person.

Ids are compared only within one source system; phone numbers and email are not evidence
(families and shelters share them, people change them); a shared city and a shared street
address count by how many clients give them, never more than ``MATCH_CITY_MAX_WEIGHT`` and
``MATCH_ADDRESS_MAX_WEIGHT`` bits, and an address never lifts a pair to an automatic match.
"""

from app.names import MatchKeys, match_keys, normalize_name, phonetic
from app.services.matching.blocking import (
    CANDIDATE_CHUNK, CandidateIndex, CandidateRow, block_condition, candidates_from_rows, described, find_candidates,
    one_of, pair_by_blocks,
)
from app.services.matching.comparisons import LEVELS, People, Person
from app.services.matching.decide import (
    DEFAULT_ACCEPT_THRESHOLD, DEFAULT_MATCH_MARGIN, DEFAULT_REVIEW_THRESHOLD, MATCH, NEW, REVIEW, Candidate,
    Decision, Thresholds, decide,
)
from app.services.matching.model import (
    DEFAULT_MODEL, MATCH_TYPE_WORDS, Evidence, LinkageModel, PairScores, Score, active_model, score_pairs,
)
from app.services.matching.frequencies import with_data_frequencies
from app.services.matching.names import NICKNAME_GROUPS


def score(incoming: Person, candidate: Person, **kw) -> Score:
    """The match probability of two people, with its weight and evidence."""
    return score_pairs([incoming], [candidate], [0], [0], **kw).at(0)


__all__ = [
    "CANDIDATE_CHUNK", "Candidate", "CandidateIndex", "CandidateRow", "DEFAULT_ACCEPT_THRESHOLD",
    "DEFAULT_MATCH_MARGIN", "DEFAULT_MODEL", "DEFAULT_REVIEW_THRESHOLD", "Decision", "Evidence", "LEVELS",
    "LinkageModel", "MATCH", "MATCH_TYPE_WORDS", "MatchKeys", "NEW", "NICKNAME_GROUPS", "PairScores", "People",
    "Person", "REVIEW", "Score", "Thresholds", "active_model", "block_condition", "candidates_from_rows", "decide",
    "described", "find_candidates", "match_keys", "normalize_name", "one_of", "pair_by_blocks", "phonetic", "score",
    "score_pairs", "with_data_frequencies",
]
