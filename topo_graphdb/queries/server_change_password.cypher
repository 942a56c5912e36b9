// The first login's password change, on the system database (the server refuses other work until then).
ALTER CURRENT USER SET PASSWORD FROM $old TO $new
