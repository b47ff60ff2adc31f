-- exclude_interacted: true for an item the user has no row for in the feed's
-- interaction table (a like, a dislike or a neutral row alike). A condition on the
-- caller's items, so every candidate pool applies it inside its own search and a
-- page still fills. The user's key is cast to the user column's type (a UUID or text
-- key may arrive as a string), so the comparison is typed and can use that column's
-- index; the item column is a foreign key to the content key, of the same type.
NOT EXISTS (
    SELECT 1
    FROM {interactions} i
    WHERE i.{user} = %s::{user_key_type}
      AND i.{item} = {key}
)
