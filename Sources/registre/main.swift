print("registre")
