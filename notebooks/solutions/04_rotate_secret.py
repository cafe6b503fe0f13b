# Accept both while senders switch over; later, require(NEW_SECRET) alone retires the old one.
lab.receiver.endpoint("secure").require([OLD_SECRET, NEW_SECRET])
