# Unit tests (cmocka), filled in below.
