-- Nothing ever read or wrote it: people and roles live in the users file (ftstudio.access.UserBook).
DROP TABLE users;
DROP SEQUENCE users_id_seq;
