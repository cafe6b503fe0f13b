@dataclass
class UserDeleted:
    id: int


@handles("user.deleted", UserDeleted)
def delete_user(user):
    with database() as db:
        db.execute("DELETE FROM users WHERE id = ?", (user.id,))
