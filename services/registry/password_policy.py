"""The rule every new password meets: a length, a strength estimate and no commonly used password.

Checked wherever a password is set (an administrator creating an account, a user changing their
own), never at sign-in: a password set under an older rule still signs in.

- Length: ``MIN_PASSWORD_LENGTH`` to ``MAX_PASSWORD_LENGTH`` characters.
- Not made of the login, the name or the system's name: with those taken out, at least
  ``MIN_PASSWORD_LENGTH`` − 2 characters remain.
- Strength: zxcvbn's estimate (score 0–4) with the login and the user's other words as user
  inputs must reach ``MIN_SCORE`` = 3 («safely unguessable: moderate protection from an offline
  slow-hash scenario», about 10^8 guesses) — the hashes are argon2id, so 10^8 guesses cost an
  attacker years on one machine. zxcvbn knows the QWERTY keyboard only: a password typed in the
  Russian layout is also judged as the same keys on QWERTY («йцукен» is «qwerty»), and the lower
  of the two scores counts.
- Breached: ``data/common-passwords.txt.gz`` — the 30,000 most common passwords of zxcvbn's own
  list (MIT licence; drawn from Mark Burnett's public 10-million-password set) plus common
  Russian passwords and keyboard runs we add (``data/README.md``). Compared lowercased and
  NFKC-normalised, as typed and as the same keys in the other layout, and also with digits and
  punctuation at the end taken off («пароль2024!» is «пароль»).
"""

from __future__ import annotations

import gzip
import string
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from zxcvbn import zxcvbn

from services.registry.passwords import MAX_PASSWORD_LENGTH
from shared.errors import DomainError

MIN_PASSWORD_LENGTH = 10
MIN_SCORE = 3
#: zxcvbn's time grows with the length; the characters past this are not estimated (a password
#: this long with a guessable start still has to pass the breached-list check as a whole).
_ESTIMATED_CHARACTERS = 72
COMMON_PASSWORDS = Path(__file__).with_name("data") / "common-passwords.txt.gz"
_HINT = ("Возьмите фразу из трёх-четырёх не связанных слов (например, «окно-лимон-трамвай-сорок») "
         "или менеджер паролей")

_RUSSIAN = "йцукенгшщзхъфывапролджэячсмитьбюё"
_LATIN = "qwertyuiop[]asdfghjkl;'zxcvbnm,.`"
_TO_LATIN = str.maketrans(_RUSSIAN, _LATIN)
_TO_RUSSIAN = str.maketrans(_LATIN, _RUSSIAN)
_TAIL = string.digits + string.punctuation + " №"


def normalised(password: str) -> str:
    return unicodedata.normalize("NFKC", password).strip().lower()


def _forms(password: str) -> set[str]:
    """The password as typed and as the same keys in the other keyboard layout."""
    text = normalised(password)
    return {text, text.translate(_TO_LATIN), text.translate(_TO_RUSSIAN)}


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as lines:
        entries = {normalised(line) for line in lines if line.strip()}
    return frozenset(form for entry in entries for form in _forms(entry))


def is_common(password: str) -> bool:
    listed = common_passwords()
    for form in _forms(password):
        base = form.rstrip(_TAIL)
        if form in listed or (len(base) >= 4 and base in listed):
            return True
    return False


def _refused(code: str, reason: str) -> DomainError:
    return DomainError(code, f"{reason}. {_HINT}", 422)


def check_new_password(password: str, user_inputs: Iterable[str] = ()) -> None:
    """Refuses (422) a password that may not be set; ``user_inputs``: the login, the name."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise _refused("PASSWORD_TOO_SHORT", f"Пароль должен быть длиной от {MIN_PASSWORD_LENGTH} "
                       f"до {MAX_PASSWORD_LENGTH} символов")
    if is_common(password):
        raise _refused("PASSWORD_BREACHED", "Этот пароль есть в списках распространённых и утёкших "
                       "паролей, их подбирают первыми")
    words = [w for value in user_inputs for w in normalised(value).replace("-", " ").split() if w]
    inputs = [*words, *(normalised(v) for v in user_inputs), "наставник", "nastavnik"]
    rest = normalised(password)
    for word in sorted((w for w in inputs if len(w) >= 4), key=len, reverse=True):
        rest = rest.replace(word, "")
    if len(rest) < MIN_PASSWORD_LENGTH - 2:
        # The login or the name, however decorated, is the first thing a guesser tries.
        raise _refused("PASSWORD_TOO_WEAK", "Пароль не должен строиться из логина, имени или "
                       "названия системы")
    score = min(zxcvbn(form[:_ESTIMATED_CHARACTERS], user_inputs=inputs)["score"]
                for form in _forms(password))
    if score < MIN_SCORE:
        raise _refused("PASSWORD_TOO_WEAK", "Пароль слишком легко подобрать: в нём угадываются "
                       "слова, имя или логин, даты, повторы или ряды клавиш")
