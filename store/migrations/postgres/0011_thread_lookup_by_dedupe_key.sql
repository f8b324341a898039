-- E-mail threading (a reply's In-Reply-To/References naming an earlier
-- complaint) now looks the Message-ID up in inbound_keys, whose primary key
-- is the same (channel, external_id) and which keeps e-mail keys for as
-- long as their message (the retention job prunes only other channels'
-- keys; erasure removes both). messages_external indexed the same random
-- keys a second time, plus every outbound row's: two B-tree pages dirtied
-- per stored mail and written again at each commit, for a lookup the other
-- index already serves.
DROP INDEX messages_external;
