-- A rebuild starts over: the old basis and every vector folded from it.
WITH basis AS (
    DELETE FROM dnf_user_factor WHERE feed_id = %(feed_id)s
)
DELETE FROM dnf_item_factor WHERE feed_id = %(feed_id)s
