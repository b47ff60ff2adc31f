-- The feeds whose capture this transaction paused (dnf_django.capture.paused), comma
-- separated, '*' for all; '' when none. NULL (never set in this session) reads as ''.
SELECT coalesce(current_setting('dnf.capture_paused', true), '')
