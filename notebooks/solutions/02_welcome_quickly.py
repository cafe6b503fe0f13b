def welcome_quickly(event):
    row = receive(event)  # quick: store it as PROCESSING
    lab.jobs.submit(process, row)  # slow: in the background, after the answer has gone
