"""First and last names as matching reads them: nicknames, gendered variants, and a client's other names.

Normalisation, Soundex and the blocking keys live in ``app.names`` (the models compute the
stored keys with them) and are re-exported here.
"""

from __future__ import annotations

from functools import lru_cache

from app.names import MatchKeys, match_keys, normalize_name, phonetic

__all__ = ["GENDERED_PAIRS", "MatchKeys", "NICKNAME_GROUPS", "is_gendered_variant", "is_nickname", "match_keys",
           "name_options", "normalize_name", "phonetic"]

# Common English and French given-name equivalents (each group is one person's possible names).
NICKNAME_GROUPS: tuple[tuple[str, ...], ...] = (
    ("alexander", "alex", "alexandre", "sasha", "sandy"), ("alexandra", "alex", "alexa", "sandra", "sasha"),
    ("andrew", "andy", "drew", "andre"), ("anthony", "tony", "antoine"), ("benjamin", "ben", "benny"),
    ("catherine", "katherine", "kathryn", "cathy", "kathy", "kate", "katie", "cat"), ("charles", "charlie", "chuck"),
    ("christopher", "chris", "kit", "christophe"), ("christine", "christina", "chris", "tina", "kristina"),
    ("daniel", "dan", "danny"), ("david", "dave", "davy"), ("deborah", "debra", "debbie", "deb"),
    ("edward", "ed", "eddie", "ted", "ned", "edouard"), ("elizabeth", "liz", "beth", "betty", "eliza", "lisa",
                                                        "elisabeth", "lizzie", "elise"),
    ("francis", "frank", "francois"), ("frederick", "fred", "freddie", "frederic"),
    ("gabriel", "gabe", "gab"), ("gregory", "greg"), ("henry", "hank", "harry", "henri"),
    ("isabelle", "isabel", "izzy", "bella"), ("jacob", "jake", "jacques"), ("james", "jim", "jimmy", "jamie"),
    ("jennifer", "jen", "jenny"), ("jessica", "jess", "jessie"), ("john", "johnny", "jack", "jean", "jon"),
    ("jonathan", "jon", "jonny", "nathan"), ("joseph", "joe", "joey", "jo"), ("joshua", "josh"),
    ("josephine", "jo", "josie"), ("kenneth", "ken", "kenny"), ("lawrence", "larry", "laurent"),
    ("louis", "lou", "louie", "luis"), ("margaret", "maggie", "meg", "peggy", "marguerite", "margot"),
    ("matthew", "matt", "matthieu", "mathieu"), ("michael", "mike", "mikey", "michel", "mick"),
    ("michelle", "shelly", "micheline"), ("nicholas", "nick", "nicky", "nicolas", "nico"),
    ("patricia", "pat", "patty", "trish", "patricie"), ("patrick", "pat", "paddy", "patrice"),
    ("peter", "pete", "pierre"), ("philip", "phil", "phillip", "philippe"), ("rebecca", "becky", "becca"),
    ("richard", "rick", "ricky", "dick", "rich"), ("robert", "rob", "bob", "bobby", "robbie", "bert"),
    ("ronald", "ron", "ronnie"), ("samuel", "sam", "sammy"), ("samantha", "sam", "sammy"),
    ("stephen", "steven", "steve", "stephane", "etienne"), ("susan", "sue", "suzie", "suzanne"),
    ("theodore", "theo", "ted", "teddy"), ("thomas", "tom", "tommy", "thom"), ("timothy", "tim", "timmy"),
    ("victoria", "vicky", "tori"), ("william", "will", "bill", "billy", "willy", "liam", "guillaume"),
    ("zachary", "zach", "zack"), ("abigail", "abby", "gail"), ("amanda", "mandy"), ("anne", "ann", "annie",
                                                                                     "anna", "hannah"),
    ("barbara", "barb", "babs"), ("caroline", "carol", "carrie", "carolyn"), ("cynthia", "cindy"),
    ("dorothy", "dot", "dottie"), ("eleanor", "ellie", "nora", "elle"), ("emily", "em", "emmy", "emilie"),
    ("gerald", "gerry", "jerry", "gerard"), ("helen", "helene", "nell"), ("jacqueline", "jackie"),
    ("judith", "judy"), ("kimberly", "kim"), ("leonard", "leo", "len", "lenny", "leon"), ("mary", "marie",
                                                                                          "molly", "maria"),
    ("melissa", "mel", "missy"), ("nathaniel", "nate", "nathan"), ("raymond", "ray"), ("ronald", "ron"),
    ("sarah", "sara", "sally"), ("vincent", "vince", "vinny"), ("walter", "walt", "wally"),
)

NICKNAMES: dict[str, frozenset[str]] = {}
for _group in NICKNAME_GROUPS:
    for _name in _group:
        NICKNAMES[_name] = NICKNAMES.get(_name, frozenset()) | frozenset(_group)


def is_nickname(a: str, b: str) -> bool:
    """Two different first tokens that one person may go by (Bob / Robert, Guillaume / William)."""
    return a != b and b in NICKNAMES.get(a, ())


# Masculine and feminine forms the ending rule below does not catch (masculine first).
GENDERED_PAIRS: frozenset[tuple[str, str]] = frozenset({
    ("nicolas", "nicole"), ("frederic", "frederique"), ("dominic", "dominique"), ("georges", "georgette"),
    ("henri", "henriette"), ("christian", "christine"), ("alexander", "alexandra"), ("alexandre", "alexandra"),
    ("yves", "yvette"), ("bernard", "bernadette"), ("joseph", "josephine"), ("paul", "pauline"),
    ("patrick", "patricia"), ("victor", "victoria"), ("antoine", "antoinette"), ("jules", "julie"),
    ("francis", "frances"), ("jean", "jeanne"), ("stephane", "stephanie"), ("gerald", "geraldine"),
    ("charles", "charlotte"), ("julius", "julia"), ("claude", "claudette"), ("marcel", "marcelle"),
    ("denis", "denise"), ("louis", "louisa"),
})
# A feminine form made by adding one of these to the masculine one (Louis/Louise, Eric/Erica,
# Daniel/Danielle, Julien/Julienne, Martin/Martine), and endings swapped on one stem
# (Antonio/Antonia, Olivier/Olivia, Julien/Julie).
_FEMININE_SUFFIXES = ("e", "a", "le", "ne", "ia", "ette", "tte", "ine")
_ENDING_SWAPS = (("o", "a"), ("ier", "ia"), ("en", "e"), ("us", "a"), ("o", "e"))


@lru_cache(maxsize=50_000)
def is_gendered_variant(a: str, b: str) -> bool:
    """Two first tokens that are the masculine and feminine forms of one name (Olivia / Olivier)."""
    if a == b or a[:2] != b[:2]:
        return False
    if (a, b) in GENDERED_PAIRS or (b, a) in GENDERED_PAIRS:
        return True
    short, long = sorted((a, b), key=len)
    if len(short) >= 3 and long.startswith(short) and long[len(short):] in _FEMININE_SUFFIXES:
        return True
    for masculine, feminine in _ENDING_SWAPS:
        for x, y in ((a, b), (b, a)):
            if x.endswith(masculine) and y.endswith(feminine):
                stem = x[:-len(masculine)]
                if len(stem) >= 3 and y[:-len(feminine)] == stem:
                    return True
    return False


def name_options(first_name, last_name, preferred_name, alias_name) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The normalised first and last names a client may appear under: own names, preferred name, alias."""
    first, last = normalize_name(first_name), normalize_name(last_name)
    if not preferred_name and not alias_name:  # most clients: no extra names to consider
        return (first,) if first else (), (last,) if last else ()
    firsts = [first]
    lasts = [last]
    if preferred_name:
        firsts.append(normalize_name(preferred_name))
    alias = normalize_name(alias_name)
    if alias:
        parts = alias.split()
        firsts.append(parts[0])
        lasts.append(parts[-1])
        if len(parts) > 1:
            firsts.append(alias)
    return tuple(dict.fromkeys(f for f in firsts if f)), tuple(dict.fromkeys(n for n in lasts if n))
