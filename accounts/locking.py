from django.contrib.auth import get_user_model
from django.contrib.auth.models import User


def lock_account(owner: User) -> None:
    """Serialise one account's writes until the transaction ends.

    A row lock on the user (PostgreSQL); on SQLite, IMMEDIATE transactions already
    serialise every write. Limits counted inside the transaction then hold when two
    requests race.
    """
    get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
